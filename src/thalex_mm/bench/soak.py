"""The soak: the reliability harness for minutes, every kind of fault drawn from a seed.

    make soak                                  # 10 minutes
    make soak ARGS="--minutes 2 --seed 5 --json soak.json"

One run of the runner of `thalex-mm run` against the in-process exchange, a fault about every
``every_s`` seconds (kinds and times fixed by the seed) on top of a low rate of garbled,
duplicated, reordered and delayed frames and refused orders; then the checks of
`bench/reliability.py` and the figures docs/reliability.md publishes. Exit 1 when a check
fails. ``run(quick)`` is the benchmark-module form (1 or 10 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from thalex_mm.bench.reliability import CONNECTION_FAULTS, percentile, run_under_faults, violations
from thalex_mm.exchange.fault_config import KINDS, FaultConfig


def soak_faults(seed: int, every_s: float = 10.0) -> FaultConfig:
    """Every kind, 2 s long (a stall outlasts the 1.5 s reply timeout; a restart is down
    2 s), and a little of every frame fault from 3 s on."""
    return FaultConfig(
        seed=seed, every_s=every_s, kinds=KINDS, duration_s=2.0, after_s=3.0,
        delay_ms=5.0, duplicate=0.01, reorder=0.01, corrupt=0.001, truncate=0.001, reject=0.02,
    )  # fmt: skip


async def soak(minutes: float, seed: int, every_s: float = 10.0) -> dict[str, Any]:
    """Run, check, and return the figures (``violations`` lists what broke)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="thalex-mm-soak-") as folder:
        record = await run_under_faults(
            soak_faults(seed, every_s), minutes * 60, Path(folder), settle_s=15.0
        )
    found = violations(record)
    connection = [r for r in record.recoveries if r.kind in CONNECTION_FAULTS]
    recovered = [r.requote_s for r in connection if r.requote_s is not None]
    venue = {(t.trade_id, t.order_id) for t in record.exchange_trades}
    journal = [(trade_id, order_id) for trade_id, order_id, _ in record.journal_fills]
    return {
        "seed": seed,
        "minutes": minutes,
        "wall_s": round(time.monotonic() - started, 1),
        "faults": dict(sorted(record.faults_injected.items())),
        "fault_kinds_covered": sorted(k for k in KINDS if record.faults_injected.get(k)),
        "disconnects": len(connection),
        "disconnects_survived": len(recovered),
        "fault_to_requote_s_p50": round(percentile(recovered, 0.5), 3),
        "fault_to_requote_s_p99": round(percentile(recovered, 0.99), 3),
        "reconnect_to_requote_s_p50": round(percentile(record.resync_to_requote_s, 0.5), 3),
        "reconnect_to_requote_s_p99": round(percentile(record.resync_to_requote_s, 0.99), 3),
        "reconnects": record.summary.get("reconnects"),
        "exchange_restarts": record.exchange_restarts,
        "fills": len(venue),
        "fills_lost": len(venue - set(journal)),
        "fills_duplicated": len(journal) - len(set(journal)),
        "bad_frames": record.bad_frames,
        "book_samples": record.samples,
        "violations": found,
    }


def run(quick: bool) -> dict[str, float | int | str]:
    """The benchmark-module form: 1 minute (quick) or 10."""
    figures = asyncio.run(soak(1.0 if quick else 10.0, seed=1))
    out: dict[str, float | int | str] = {}
    for key, value in figures.items():
        if isinstance(value, int | float | str):
            out[f"soak_{key}"] = value
    out["soak_violations"] = len(figures["violations"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m thalex_mm.bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between faults")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    figures = asyncio.run(soak(args.minutes, args.seed, args.every))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 1 if figures["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
