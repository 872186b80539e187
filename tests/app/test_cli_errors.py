"""Bad user input to `thalex-mm run` / `config check`: one line naming the problem, exit 2."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from thalex_mm.cli.main import main
from thalex_mm.venue.thalex.auth import generate_key_pair

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` journals to ./data by default: keep that out of the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    private_pem, _ = generate_key_pair()
    path = tmp_path / "private.pem"
    path.write_bytes(private_pem)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _one_error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    rc = main(list(args))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2, captured
    assert len(lines) == 1, lines
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("duration", ["0", "-3"])
def test_duration_must_be_positive(capsys: pytest.CaptureFixture[str], duration: str) -> None:
    line = _one_error_line(capsys, "run", "--duration", duration)
    assert "--duration must be a positive number" in line


def test_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--url must start with ws://" in _one_error_line(capsys, "run", "--url", "http://x")


def test_missing_key_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    line = _one_error_line(
        capsys, "run", "--url", "ws://127.0.0.1:1/ws/api/v2", "--key-id", "K1",
        "--private-key-file", str(missing),
    )  # fmt: skip
    assert "cannot read the private key" in line and "nope.pem" in line


def test_external_venue_needs_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_error_line(capsys, "run", "--network", "testnet")
    assert "needs an API key" in line


def test_production_needs_the_confirmation_flag(
    capsys: pytest.CaptureFixture[str], pem: Path
) -> None:
    line = _one_error_line(
        capsys, "run", "--network", "prod", "--key-id", "K1", "--private-key-file", str(pem)
    )
    assert "production" in line and "--i-understand-this-is-production" in line


def test_unreachable_url_is_one_line(capsys: pytest.CaptureFixture[str], pem: Path) -> None:
    url = f"ws://127.0.0.1:{_free_port()}/ws/api/v2"
    line = _one_error_line(
        capsys, "run", "--url", url, "--key-id", "K1", "--private-key-file", str(pem),
        "--duration", "1",
    )  # fmt: skip
    assert url in line


def test_summary_json_folder_must_exist(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = _one_error_line(
        capsys, "run", "--duration", "1", "--summary-json", str(tmp_path / "no" / "s.json")
    )
    assert "--summary-json" in line


def test_config_check_ok_and_bad(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["config", "check", str(EXAMPLE)]) == 0
    assert "OK - 2 instrument(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[[instruments]]\nname = 'A'\n[instruments.quote]\ngama = 0.1\n")
    line = _one_error_line(capsys, "config", "check", str(bad))
    assert "instruments[0].quote.gama: unknown field" in line
