"""The Avellaneda & Stoikov (2008) §3.3 reproduction, checked against the published γ = 0.1 row.

Tolerance: our estimate and the paper's both carry Monte Carlo error. For each statistic we
take our own standard error se (from this sample: std/√n for means, std·√((κ−1)/(4n)) for
standard deviations, κ the sample kurtosis) and the paper's, which is the same quantity at the
paper's 1000 paths (se·√(n/1000)). The difference of two independent estimates has standard
error √(se² + se_paper²); we allow 4 of those (a false failure has probability ~6e-5 per
check), plus 0.05 for the paper's rounding to one decimal (0.005 for the two-decimal spread).
The run is seeded, so the test is deterministic. The paper's γ = 0.01 and γ = 1 rows are not
tested: their transcription is uncertain (and the γ = 1 spread does not follow from the
paper's own formula).
"""

import json
import math

import pytest

from thalex_mm.cli.main import main
from thalex_mm.model.paper_sim import PUBLISHED, PUBLISHED_PATHS, PaperRow, simulate

PATHS = 20_000
SEED = 12345
SIGMAS = 4.0
ROUNDING = 0.05


@pytest.fixture(scope="module")
def gamma_01_rows() -> tuple[PaperRow, PaperRow]:
    return simulate(0.1, PATHS, SEED, "linear")


def _tolerance(se: float, n: int) -> float:
    se_paper = se * math.sqrt(n / PUBLISHED_PATHS)
    return SIGMAS * math.hypot(se, se_paper) + ROUNDING


@pytest.mark.parametrize("index", [0, 1], ids=["inventory", "symmetric"])
def test_gamma_01_matches_published_within_monte_carlo_error(
    gamma_01_rows: tuple[PaperRow, PaperRow], index: int
) -> None:
    row = gamma_01_rows[index]
    spread, profit_mean, profit_std, q_mean, q_std = PUBLISHED[0.1][row.strategy]
    assert row.spread == pytest.approx(spread, abs=0.005)
    checks = [
        ("profit_mean", row.profit_mean, profit_mean, row.profit_mean_se),
        ("profit_std", row.profit_std, profit_std, row.profit_std_se),
        ("q_mean", row.q_mean, q_mean, row.q_mean_se),
        ("q_std", row.q_std, q_std, row.q_std_se),
    ]
    for name, ours, published, se in checks:
        assert se > 0.0
        tol = _tolerance(se, row.paths)
        assert abs(ours - published) <= tol, f"{row.strategy} {name}: {ours} vs {published} ± {tol}"


def test_tolerance_is_tight_enough_to_mean_something(
    gamma_01_rows: tuple[PaperRow, PaperRow],
) -> None:
    inv, sym = gamma_01_rows
    # The inventory strategy's profit must be pinned to within about ±1, far less than the
    # 3.4 gap to the symmetric strategy or the ~8 drop the Poisson fill rule causes.
    assert _tolerance(inv.profit_mean_se, inv.paths) < 1.2
    assert sym.profit_mean - inv.profit_mean > 2 * _tolerance(inv.profit_mean_se, inv.paths)
    # The paper's main finding: the inventory strategy has far less P&L and inventory risk.
    assert inv.profit_std < 0.6 * sym.profit_std
    assert inv.q_std < 0.5 * sym.q_std


def test_poisson_fills_are_rarer_so_profit_is_lower(
    gamma_01_rows: tuple[PaperRow, PaperRow],
) -> None:
    inv_p, _ = simulate(0.1, 4000, SEED, "poisson")
    tol = 4 * math.hypot(inv_p.profit_mean_se, gamma_01_rows[0].profit_mean_se)
    assert inv_p.profit_mean < gamma_01_rows[0].profit_mean - tol


def test_same_seed_same_numbers_different_seed_different() -> None:
    a = simulate(0.5, 200, 7)
    assert simulate(0.5, 200, 7) == a
    assert simulate(0.5, 200, 8) != a


def test_higher_gamma_holds_less_inventory() -> None:
    low, _ = simulate(0.01, 4000, SEED)
    high, _ = simulate(1.0, 4000, SEED)
    assert high.q_std < low.q_std
    assert high.spread > low.spread  # γσ²(T−t) term dominates at γ = 1


def test_simulate_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="gamma"):
        simulate(0.0, 10, 1)
    with pytest.raises(ValueError, match="paths"):
        simulate(0.1, 1, 1)
    with pytest.raises(ValueError, match="fills"):
        simulate(0.1, 10, 1, "cubic")  # type: ignore[arg-type]


def test_cli_json_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "paper-table",
                "--paths",
                "300",
                "--seed",
                "3",
                "--gamma",
                "0.1",
                "--gamma",
                "1",
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(r["gamma"], r["strategy"]) for r in rows] == [
        (0.1, "inventory"),
        (0.1, "symmetric"),
        (1.0, "inventory"),
        (1.0, "symmetric"),
    ]
    keys = {"gamma", "strategy", "spread", "profit_mean", "profit_std", "q_mean", "q_std"}
    assert all(set(r) == keys for r in rows)
    direct = simulate(1.0, 300, 3)[1]
    assert rows[3]["profit_mean"] == pytest.approx(direct.profit_mean)


def test_cli_table_shows_published_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper-table", "--paths", "200", "--gamma", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "inventory" in out and "symmetric" in out
    assert "[65.00]" in out and "[68.40]" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--paths", "0"], "--paths"),
        (["--paths", "-5"], "--paths"),
        (["--gamma", "0"], "--gamma"),
        (["--gamma", "-0.1"], "--gamma"),
        (["--gamma", "nan"], "--gamma"),
    ],
)
def test_cli_rejects_bad_options(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["paper-table", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
