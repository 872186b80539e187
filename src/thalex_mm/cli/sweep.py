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
    result = run_sweep(opts)
    print(format_result(result, opts.objective))
    if args.json is not None:
        payload = {
            "study": result.study, "storage": result.storage, "trials": result.trials,
            "best": result.best, "holdout": result.holdout,
            "best_config": None if result.best_config is None else str(result.best_config),
        }  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0
