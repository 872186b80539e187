"""Command line + config file -> where to trade and with which key."""

from __future__ import annotations

from pathlib import Path

import pytest

from thalex_mm.app.launch import (
    RunOptions,
    effective_config,
    resolve_target,
    uses_inprocess_exchange,
)
from thalex_mm.errors import UserError
from thalex_mm.venue.thalex.auth import generate_key_pair
from thalex_mm.venue.thalex.networks import PRODUCTION_URL, TESTNET_URL, Network


def test_no_options_use_the_inprocess_exchange() -> None:
    cfg = effective_config(RunOptions())
    assert uses_inprocess_exchange(cfg)
    assert cfg.run.duration_s is None
    # the journal is on by default, to SQLite under ./data/ (the issue: zero setup)
    assert cfg.journal.enabled and cfg.journal.url == "sqlite:///data/journal.db"


def test_command_line_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[venue]\nurl = "ws://a:1/ws"\nkey_id = "K1"\n[run]\nduration_s = 9.0\n')
    cfg = effective_config(
        RunOptions(config=path, duration_s=2.5, key_id="K2", journal="sqlite:///x.db")
    )
    assert cfg.venue.url == "ws://a:1/ws" and cfg.venue.key_id == "K2"
    assert cfg.run.duration_s == 2.5 and cfg.journal.url == "sqlite:///x.db"
    assert not uses_inprocess_exchange(cfg)


def test_prod_alias_needs_the_flag_then_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private_pem, _ = generate_key_pair()
    monkeypatch.setenv("MY_KEY", private_pem.decode())
    path = tmp_path / "c.toml"
    path.write_text('[venue]\nkey_id = "K7"\nprivate_key_env = "MY_KEY"\n')
    cfg = effective_config(RunOptions(config=path, network="prod"))
    assert cfg.venue.network == "production"
    with pytest.raises(UserError, match="real money"):
        resolve_target(cfg, allow_production=False)
    endpoint, creds = resolve_target(cfg, allow_production=True)
    assert endpoint.network is Network.PRODUCTION and endpoint.url == PRODUCTION_URL
    assert creds.key_id == "K7" and "MY_KEY" in repr(creds)
    assert private_pem.decode()[40:80] not in repr(creds)  # the key never shows


def test_testnet_uses_its_fixed_url_and_a_key_file(tmp_path: Path) -> None:
    private_pem, _ = generate_key_pair()
    pem = tmp_path / "k.pem"
    pem.write_bytes(private_pem)
    cfg = effective_config(RunOptions(network="testnet", key_id="K3", private_key_file=pem))
    endpoint, creds = resolve_target(cfg, allow_production=False)
    assert endpoint.url == TESTNET_URL and creds.key_id == "K3"


def test_url_only_with_the_local_network() -> None:
    with pytest.raises(UserError, match="--url cannot be combined with --network testnet"):
        effective_config(RunOptions(network="testnet", url="ws://x:1/ws"))
