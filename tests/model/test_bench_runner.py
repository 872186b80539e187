"""The `thalex-mm bench` runner skeleton (lives with the model helper's tests)."""

import importlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from thalex_mm.bench import runner
from thalex_mm.bench.machine import cpu_model, machine_info, package_versions
from thalex_mm.cli.main import main


def _fake_loader(modules: dict[str, Any]) -> Any:
    def load(name: str) -> Any:
        if name not in modules:
            raise ModuleNotFoundError(f"no module {name}")
        return modules[name]

    return load


def test_failing_module_is_an_error_row_not_a_crash() -> None:
    def boom(quick: bool) -> dict[str, float]:
        raise RuntimeError("exploded")

    modules = {
        "good": SimpleNamespace(run=lambda quick: {"quote_us_median": 4.0, "x": 1}),
        "bad": SimpleNamespace(run=boom),
        "weird": SimpleNamespace(run=lambda quick: [1, 2]),
    }
    results = runner.run_modules(["good", "bad", "missing", "weird"], True, _fake_loader(modules))
    assert [r.name for r in results] == ["good", "bad", "missing", "weird"]
    assert results[0].error is None and results[0].metrics["x"] == 1
    assert results[1].error is not None and "RuntimeError: exploded" in results[1].error
    assert results[2].error is not None and "ModuleNotFoundError" in results[2].error
    assert results[3].error is not None and "expected dict" in results[3].error
    table = runner.format_table(results)
    assert "bad (module)" in table and "ERROR" in table and "pass" in table
    assert not runner.all_passed(results)
    assert runner.all_passed(results[:1])


def test_quick_flag_is_passed_through() -> None:
    seen: list[bool] = []

    def run(quick: bool) -> dict[str, int]:
        seen.append(quick)
        return {"n": 1}

    module = SimpleNamespace(run=run)
    runner.run_modules(["m"], False, _fake_loader({"m": module}))
    runner.run_modules(["m"], True, _fake_loader({"m": module}))
    assert seen == [False, True]


def test_budget_verdicts_and_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner.BUDGETS, "rate", runner.Budget(100.0, "msg/s", True))
    assert runner.verdict("quote_us_median", 9.99) == "pass"
    assert runner.verdict("quote_us_median", 10.01) == "FAIL"
    assert runner.verdict("rate", 150) == "pass"
    assert runner.verdict("rate", 50) == "FAIL"
    assert runner.verdict("rate", "n/a") == ""
    assert runner.verdict("rate", float("nan")) == ""  # too short a run to measure
    assert runner.verdict("unknown_metric", 1.0) == ""
    a = runner.ModuleResult("a", {"m": 1, "k": 2})
    b = runner.ModuleResult("b", {"m": 3})
    assert runner.merge_metrics([a, b]) == {"m": 1, "k": 2, "b.m": 3}
    report = runner.build_report([a, b], True, {"cpu": "x"}, {"numpy": "2"}, "t")
    assert report["metrics"] == {"m": 1, "k": 2, "b.m": 3}
    assert report["machine"] == {"cpu": "x"} and report["versions"] == {"numpy": "2"}
    assert report["errors"] == {}


def test_machine_info(tmp_path: Path) -> None:
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\n")
    assert cpu_model(fake) == "Test CPU 9000"
    assert cpu_model(tmp_path / "missing") != ""
    info = machine_info()
    assert isinstance(info["cores"], int) and info["cores"] >= 1
    assert str(info["python"]).count(".") == 2
    versions = package_versions(("numpy", "surely-not-a-package-xyz"))
    assert versions["numpy"][0].isdigit()
    assert versions["surely-not-a-package-xyz"] == "not installed"


def test_registered_modules_are_importable() -> None:
    for name in runner.BENCH_MODULES:
        module = importlib.import_module(f"thalex_mm.bench.{name}")
        assert callable(module.run)


def test_cli_bench_quick_writes_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "r.json"
    code = main(["bench", "--quick", "--only", "quote", "--json", str(out)])
    assert code in (0, 1)  # 1 only if this machine misses a budget
    report = json.loads(out.read_text())
    assert report["quick"] is True
    for key in ("quote_us_median", "quote_us_p90", "quote_us_p99", "quote_as_us_median"):
        assert report["metrics"][key] > 0
    assert report["metrics"]["quote_us_p99"] >= report["metrics"]["quote_us_median"]
    assert {"cpu", "cores", "python", "platform"} <= set(report["machine"])
    assert "numpy" in report["versions"] and "thalex-mm" in report["versions"]
    assert "quote_us_median" in capsys.readouterr().out


def test_cli_bench_unknown_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "nope"]) == 2
    assert "unknown benchmark nope" in capsys.readouterr().err


def test_units_from_metric_names() -> None:
    results = [runner.ModuleResult("m", {"x_msgs_per_s": 5, "y_per_s": 1, "z_s": 2.0})]
    lines = runner.format_table(results).splitlines()
    assert "msg/s" in lines[2] and "/s" in lines[3] and lines[4].split()[-1] == "s"
