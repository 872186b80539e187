from dataclasses import dataclass, field

import msgspec
import pytest

from thalex_mm.app.strict_convert import ConfigError, strict_convert


@dataclass(frozen=True, slots=True)
class Risk:
    max_position: float = 1.0

    def __post_init__(self) -> None:
        if self.max_position <= 0:
            raise ValueError("must be > 0")


@dataclass(frozen=True, slots=True)
class Instrument:
    name: str
    gamma: float = 0.1
    risk: Risk = field(default_factory=Risk)
    tags: dict[str, Risk] = field(default_factory=dict)


class Root(msgspec.Struct, frozen=True):
    instruments: list[Instrument]
    fallback: Risk | None = None


def test_valid_data_converts_with_defaults() -> None:
    cfg = strict_convert({"instruments": [{"name": "X", "risk": {"max_position": 2}}]}, Root)
    assert cfg.instruments[0].risk.max_position == 2.0
    assert cfg.instruments[0].gamma == 0.1
    assert cfg.fallback is None


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"instruments": [{"name": "X", "gama": 1}]}, "instruments[0].gama"),
        (
            {"instruments": [{"name": "X", "risk": {"max_postion": 1}}]},
            "instruments[0].risk.max_postion",
        ),
        ({"instruments": [], "fallback": {"oops": 1}}, "fallback.oops"),
        ({"instruments": [{"name": "X", "tags": {"a": {"bad": 1}}}]}, "instruments[0].tags.a.bad"),
        ({"instrumentz": []}, "instrumentz"),
    ],
)
def test_unknown_key_is_named(data: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        strict_convert(data, Root)
    assert info.value.path == path
    assert "unknown field" in str(info.value)


def test_type_error_and_post_init_error_name_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        strict_convert({"instruments": [{"name": "X", "gamma": "high"}]}, Root)
    assert info.value.path == "instruments[0].gamma"
    assert "float" in info.value.detail
    with pytest.raises(ConfigError) as info:
        strict_convert({"instruments": [{"name": "X", "risk": {"max_position": -1}}]}, Root)
    assert info.value.path == "instruments[0].risk"
    assert "must be > 0" in info.value.detail
