"""``thalex-mm sweep``: search strategy parameters over backtests (Optuna)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="search strategy parameters over backtests (Optuna)",
        description=(
            "Backtest a config over one or more recorded windows for each trial of an Optuna "
            "study over the parameters in SPACE.toml; write the best feasible trial as a "
            "runnable config. See docs/sweep.md."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, help="the run config to start from")
    parser.add_argument("--space", required=True, type=Path, help="the search space (TOML)")
    parser.add_argument("--data", required=True, nargs="+", metavar="WINDOW",
                        help="windows the objective sums over")  # fmt: skip
    parser.add_argument("--objective", default="pnl",
                        help="pnl (default), pnl_before_fees, edge or sharpe")  # fmt: skip
    parser.add_argument("--trials", type=int, default=50, help="trials to run now (default 50)")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna storage: postgresql://... to share a study between machines "
                        "(default: a journal file beside SPACE.toml)")  # fmt: skip
    parser.add_argument("--study", help="study name (the same name continues a study)")
    parser.add_argument("--workers", type=int, default=1, help="processes on this machine")
    parser.add_argument("--holdout", nargs="*", default=[], metavar="WINDOW",
                        help="windows to check the best trial on, out of sample")  # fmt: skip
    parser.add_argument("--max-inventory", type=float, help="constraint: max |position|")
    parser.add_argument("--min-fills", type=int, help="constraint: at least this many fills")
    parser.add_argument("--queue", default="risk-averse", help="backtest queue model")
    parser.add_argument("--latency-ms", default="0,0", metavar="ENTRY,RESPONSE")
    parser.add_argument("--fees", metavar="MAKER,TAKER")
    parser.add_argument("--no-partial-fills", action="store_true")
    parser.add_argument("--out", type=Path, help="where to write the best trial's config")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--report", type=Path, metavar="FILE.html",
                        help="backtest the best trials into a journal (FILE.html.db) and write "
                        "thalex-mm report's page for them")  # fmt: skip
    parser.add_argument("--report-top", type=int, default=1, metavar="N",
                        help="the best trials the report compares (default 1)")  # fmt: skip
    parser.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from thalex_mm.app.backtest_run import parse_pair  # noqa: PLC0415
    from thalex_mm.app.sweep import SweepOptions, format_result, run_sweep  # noqa: PLC0415

    opts = SweepOptions(
        config=args.config, space=args.space, data=tuple(args.data), objective=args.objective,
        trials=args.trials, storage=args.storage, study=args.study, workers=args.workers,
        holdout=tuple(args.holdout), max_inventory=args.max_inventory, min_fills=args.min_fills,
        queue=args.queue, latency_ms=parse_pair("--latency-ms", args.latency_ms),
        fees=None if args.fees is None else parse_pair("--fees", args.fees),
        partial_fills=not args.no_partial_fills, out=args.out, seed=args.seed,
    )  # fmt: skip
    if args.report is not None and not args.report.parent.is_dir():
        from thalex_mm.errors import UserError  # noqa: PLC0415

        raise UserError(f"--report: folder {str(args.report.parent)!r} does not exist")
    result = run_sweep(opts)
    print(format_result(result, opts.objective))
    if args.report is not None and result.best is not None:
        _report_best(opts, result, args.report, max(1, args.report_top))
    if args.json is not None:
        payload = {
            "study": result.study, "storage": result.storage, "trials": result.trials,
            "best": result.best, "holdout": result.holdout,
            "best_config": None if result.best_config is None else str(result.best_config),
        }  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


def _report_best(opts: Any, result: Any, out: Path, top: int) -> None:
    """The best ``top`` feasible trials backtested on the first window into a journal,
    and ``thalex-mm report``'s page for them (side by side when more than one)."""
    import tomllib  # noqa: PLC0415

    import tomli_w  # noqa: PLC0415

    from thalex_mm.app.backtest_run import BacktestOptions, run_backtest  # noqa: PLC0415
    from thalex_mm.app.sweep import apply_params  # noqa: PLC0415
    from thalex_mm.journal.query import Reader, list_runs  # noqa: PLC0415
    from thalex_mm.report.html import render  # noqa: PLC0415
    from thalex_mm.report.load import load_run  # noqa: PLC0415
    from thalex_mm.report.metrics import build  # noqa: PLC0415

    feasible = sorted(
        (t for t in result.trials if t["feasible"] and t["value"] is not None),
        key=lambda t: t["value"], reverse=True,
    )[:top]  # fmt: skip
    db = out.with_name(out.name + ".db")
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db.resolve()}"
    base = tomllib.loads(opts.config.read_text(encoding="utf-8"))
    for trial in feasible:
        config = out.with_name(f"{out.stem}-trial-{trial['number']}.toml")
        config.write_text(tomli_w.dumps(apply_params(base, trial["params"])))
        run_backtest(
            BacktestOptions(
                opts.data[0], config, queue=opts.queue, latency_ms=opts.latency_ms,
                fees=opts.fees, partial_fills=opts.partial_fills, progress=False, journal=url,
            )
        )  # fmt: skip
    with Reader(url) as reader:
        reports = [build(load_run(reader, info)) for info in list_runs(reader)]
    out.write_text(render(reports, compare=len(reports) > 1), encoding="utf-8")
    print(f"report: {out} (trials {', '.join(str(t['number']) for t in feasible)}; journal {url})")
