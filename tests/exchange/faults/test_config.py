"""A bad [faults] table is one line naming the field, in every place a table can be given."""

from __future__ import annotations

from pathlib import Path

import pytest

from thalex_mm.app.settings import load_config as load_app_config
from thalex_mm.cli.main import main
from thalex_mm.errors import UserError
from thalex_mm.exchange.config_file import load_config
from thalex_mm.exchange.fault_config import FaultConfig, ScheduledFault


def exchange_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exchange.toml"
    path.write_text(text)
    return path


def test_the_exchange_config_file_takes_a_faults_table(tmp_path: Path) -> None:
    path = exchange_file(
        tmp_path,
        "[faults]\nseed = 4\nreject = 0.1\n[[faults.schedule]]\nat_s = 2\nkind = 'abort'\n",
    )
    faults = load_config(path, {}).faults
    assert faults == FaultConfig(seed=4, reject=0.1, schedule=(ScheduledFault(2.0, "abort"),))
    assert faults.active and not FaultConfig().active
    assert load_config(None, {}).faults == FaultConfig()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("reject = 1.5", "faults: reject must be 0..1, got 1.5"),
        ("rejct = 0.1", "unknown key(s) in [faults]: rejct"),
        ("delay_ms = 'x'", "faults: delay_ms: Expected `float`, got `str`"),
        ("kinds = ['abort', 'crash']", "faults: kinds: 'crash' is not a fault"),
        ("[[faults.schedule]]\nat_s = 1\nkind = 'boom'", "faults: schedule[0]: kind 'boom'"),
        ("[[faults.schedule]]\nat_s = -1\nkind = 'close'", "schedule[0]: at_s must be 0..inf"),
        ("[[faults.schedule]]\nkind = 'close'", "schedule[0]"),
        ("[[faults.schedule]]\nat = 1\nkind = 'close'", "in faults.schedule[0]: at"),
        ("schedule = 3", "faults.schedule must be a list of tables"),
    ],
)
def test_a_bad_faults_table_names_the_field(tmp_path: Path, table: str, message: str) -> None:
    path = exchange_file(tmp_path, "[faults]\n" + table + "\n")
    with pytest.raises(UserError) as info:
        load_config(path, {})
    text = str(info.value)
    assert message in text and "\n" not in text and text.startswith(str(path))


def test_the_run_config_takes_local_exchange_faults(tmp_path: Path) -> None:
    path = tmp_path / "mm.toml"
    path.write_text("[local_exchange.faults]\nevery_s = 5.0\nkinds = ['close']\n")
    faults = load_app_config(path).local_exchange.faults
    assert faults.every_s == 5.0 and faults.kinds == ("close",)
    path.write_text("[local_exchange.faults]\nduplicate = 2\n")
    with pytest.raises(UserError, match=r"local_exchange\.faults: duplicate must be 0\.\.1"):
        load_app_config(path)
    path.write_text("[[local_exchange.faults.schedule]]\nat_s = 1\nkind = 'close'\nlen = 2\n")
    with pytest.raises(UserError, match=r"local_exchange\.faults\.schedule\[0\]\.len"):
        load_app_config(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "abort"], "--fault 'abort': expected KIND@AT_S[:DURATION_S]"),
        (["--fault", "abort@x"], "expected KIND@AT_S[:DURATION_S]"),
        (["--fault", "melt@3"], "kind 'melt' is not a fault"),
        (["--fault-share", "loss=0.1"], "NAME one of duplicate"),
        (["--fault-share", "reject=lots"], "'lots' is not a number"),
        (["--fault-share", "reject=2"], "faults: reject must be 0..1"),
        (["--fault-every", "-1"], "faults: every_s must be 0..inf"),
    ],
)
def test_bad_fault_flags_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exchange", "--port", "0", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_fault_flags_add_to_the_file(tmp_path: Path) -> None:
    from thalex_mm.cli.exchange import parse_fault_flags  # noqa: PLC0415
    from thalex_mm.cli.main import build_parser  # noqa: PLC0415

    args = build_parser().parse_args(
        ["exchange", "--fault", "stall@4:2.5", "--fault-seed", "9", "--fault-share", "reorder=0.1"]
    )
    path = exchange_file(tmp_path, "[faults]\n[[faults.schedule]]\nat_s = 1\nkind = 'close'\n")
    faults = load_config(path, {}, fault_overrides=parse_fault_flags(args)).faults
    assert faults.seed == 9 and faults.reorder == 0.1
    assert faults.schedule == (ScheduledFault(1.0, "close"), ScheduledFault(4.0, "stall", 2.5))
