"""The run config: the example file loads and documents every field; bad input names the field."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from thalex_mm.app.settings import AppConfig, InstrumentSettings, config_from_data, load_config
from thalex_mm.app.strict_convert import ConfigError
from thalex_mm.errors import UserError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"


def _record_type(tp: Any) -> type | None:
    """The dataclass behind ``tp`` (through Optional and tuple[X, ...]), or None."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType, tuple, list):
        for arg in typing.get_args(tp):
            found = _record_type(arg)
            if found is not None:
                return found
        return None
    return tp if dataclasses.is_dataclass(tp) else None


def _fields(tp: type, prefix: str = "") -> list[tuple[str, bool]]:
    """(dotted path, is_section) for every field reachable from ``tp``."""
    out: list[tuple[str, bool]] = []
    hints = typing.get_type_hints(tp)
    for f in dataclasses.fields(tp):  # type: ignore[arg-type]
        path = f"{prefix}{f.name}"
        sub = _record_type(hints[f.name])
        out.append((path, sub is not None))
        if sub is not None:
            out.extend(_fields(sub, path + "."))
    return out


def test_example_config_loads_with_two_instruments() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.instrument_names == ("BTC-PERPETUAL", "ETH-PERPETUAL")
    # each instrument keeps its own parameters
    btc, eth = cfg.instruments
    assert btc.quote.ladder.levels == 3 and eth.quote.ladder.levels == 2
    assert eth.risk.max_position == 0.2 and btc.risk.max_position == 0.01


def test_example_config_mentions_every_field() -> None:
    text = EXAMPLE.read_text()
    missing = []
    for path, is_section in _fields(AppConfig):
        name = path.rsplit(".", 1)[-1]
        if is_section:
            pattern = rf"^\s*#?\s*\[\[?([\w.]+\.)?{re.escape(name)}\]\]?\s*$"
        else:
            pattern = rf"^\s*#?\s*{re.escape(name)}\s*="
        if not re.search(pattern, text, re.MULTILINE):
            missing.append(path)
    assert not missing, f"config/example.toml does not document: {missing}"


def test_field_walk_sees_nested_core_fields() -> None:
    # guards the test above: it must reach the core's own config classes
    paths = {p for p, _ in _fields(AppConfig)}
    assert "instruments.risk.max_position" in paths
    assert "instruments.quote.ladder.levels" in paths
    assert "hedges.threshold" in paths


def test_no_config_quotes_btc_perpetual_with_the_demo_parameters() -> None:
    cfg = AppConfig()
    assert cfg.instrument_names == ("BTC-PERPETUAL",)
    assert cfg.venue.network == "local" and cfg.venue.url is None
    # the same values the example shows for BTC-PERPETUAL
    example_btc = load_config(EXAMPLE).instruments[0]
    assert cfg.instruments[0] == example_btc


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"instruments": [{"name": "X", "risk": {"max_postion": 1.0}}]},
         "instruments[0].risk.max_postion"),
        ({"instruments": [{"name": "X", "risk": {"max_position": -1.0}}]}, "instruments[0].risk"),
        ({"instruments": [{"name": "X"}, {"name": "Y", "quote": {"gamma_usd": "high"}}]},
         "instruments[1].quote.gamma_usd"),
        ({"instruments": [{"name": "X"}, {"name": "Y", "quote": {"gamma": 0.1}}]},
         "instruments[1].quote.gamma"),  # its meaning changed: refused, with how to convert
        ({"run": {"duration_s": 0}}, "run"),
        ({"venue": {"network": "mainnet"}}, "venue.network"),
        ({"venue": {"url": "http://x"}}, "venue"),
        ({"colour": "blue"}, "colour"),
        ({"journal": {"writer_priority": "high"}}, "journal.writer_priority"),
        ({"run": {"gc_young_threshold": -1}}, "run"),
        ({"run": {"busy_poll": "yes"}}, "run.busy_poll"),
        ({"run": {"cpu": -1}}, "run"),
        ({"run": {"warm_interval_us": -5}}, "run"),
        ({"run": {"warm_interval_us": "often"}}, "run.warm_interval_us"),
        ({"run": {"malloc_mmap_threshold_kb": -1}}, "run"),
        ({"run": {"cpu": "zero"}}, "run.cpu"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_data(data)
    assert info.value.path == path
    assert str(info.value).startswith(path)


def test_instrument_list_rules() -> None:
    with pytest.raises(ConfigError, match="more than once"):
        config_from_data({"instruments": [{"name": "A"}, {"name": "A"}]})
    with pytest.raises(ConfigError, match="at least one"):
        config_from_data({"instruments": []})
    with pytest.raises(ConfigError, match="not in instruments"):
        config_from_data(
            {"instruments": [{"name": "A"}], "hedges": [{"quoted": "A", "hedge": "B",
                                                          "threshold": 1.0}]}
        )  # fmt: skip


def test_partial_section_keeps_core_defaults_for_the_rest() -> None:
    cfg = config_from_data({"instruments": [{"name": "A", "risk": {"max_loss": 5.0}}]})
    inst = cfg.instruments[0]
    assert inst.risk.max_loss == 5.0
    assert inst.risk.max_position == InstrumentSettings("A").risk.max_position


def test_load_config_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_config(bad)
    bad.write_text("[run]\nstatus_interval_s = -1\n")
    with pytest.raises(UserError, match=r"bad.toml: run: run.status_interval_s must be positive"):
        load_config(bad)
