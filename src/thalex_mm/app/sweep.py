"""``thalex-mm sweep``: search strategy parameters over backtests with Optuna.

A search space is a TOML file of parameters of the config's first instrument, by their path
in its table, each with its range::

    [params."quote.gamma_usd"]
    low = 0.1
    high = 30.0
    log = true

    [params."quote.ladder.levels"]
    type = "int"
    low = 1
    high = 5

    [params."quote.ladder.placement"]
    choices = ["model", "model_fibonacci"]

Each trial writes its values into the config, backtests every ``--data`` window with the
production core (``app.backtest_run``) and scores the objective (summed over the windows).
Constraints (``--max-inventory``, ``--min-fills``) go to the sampler as Optuna constraints,
so infeasible trials steer the search away instead of scoring. Studies live in Optuna
storage: a journal file by default (resumable: the same ``--study`` name continues), or
PostgreSQL (``--storage postgresql://...``), which several machines can share, each adding
``--workers`` processes. The best feasible trial is written as a runnable config, and
checked out of sample on ``--holdout`` windows.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thalex_mm.app.backtest_run import BacktestOptions, run_backtest
from thalex_mm.app.settings import config_from_data
from thalex_mm.app.strict_convert import ConfigError
from thalex_mm.errors import UserError

OBJECTIVES = ("pnl", "pnl_before_fees", "edge", "sharpe")


@dataclass(frozen=True, slots=True)
class Param:
    path: str  # in the first instrument's table, e.g. "quote.gamma_usd"
    kind: str  # "float", "int" or "categorical"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class SweepOptions:
    config: Path
    space: Path
    data: tuple[str, ...]
    objective: str = "pnl"
    trials: int = 50
    storage: str | None = None  # None: a journal file beside the space file
    study: str | None = None
    workers: int = 1
    holdout: tuple[str, ...] = ()
    max_inventory: float | None = None
    min_fills: int | None = None
    queue: str = "risk-averse"
    latency_ms: tuple[float, float] = (0.0, 0.0)
    fees: tuple[float, float] | None = None
    partial_fills: bool = True
    out: Path | None = None  # the best trial's config
    seed: int = 0
    progress: bool = True


@dataclass(slots=True)
class SweepResult:
    study: str
    storage: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    holdout: list[dict[str, Any]] = field(default_factory=list)
    best_config: Path | None = None


def load_space(path: Path) -> list[Param]:
    """The search space; UserError naming the bad entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read space file {str(path)!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"space file {path}: not valid TOML: {exc}") from None
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise UserError(f'space file {path}: needs a [params."path"] table per parameter')
    out = []
    for name, spec in params.items():
        where = f"space file {path}: params.{name}"
        if not isinstance(spec, dict):
            raise UserError(f"{where}: must be a table")
        if "choices" in spec:
            choices = spec["choices"]
            if not isinstance(choices, list) or not choices:
                raise UserError(f"{where}.choices: must be a non-empty list")
            out.append(Param(name, "categorical", choices=tuple(choices)))
            continue
        kind = spec.get("type", "float")
        if kind not in ("float", "int"):
            raise UserError(f"{where}.type: must be float or int, not {kind!r}")
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (low, high)):
            raise UserError(f"{where}: needs numeric low and high")
        assert isinstance(low, int | float) and isinstance(high, int | float)
        if not low < high:
            raise UserError(f"{where}: low must be below high")
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise UserError(f"{where}: a log range needs low > 0")
        step = spec.get("step")
        out.append(Param(name, kind, float(low), float(high), log, step))
    return out


def _set(table: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise UserError(f"cannot set {path}: {key} is not a table")
    table[keys[-1]] = value


def apply_params(config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with ``values`` set in its first instrument's table."""
    out = copy.deepcopy(config)
    instruments = out.setdefault("instruments", [{"name": "BTC-PERPETUAL"}])
    for path, value in values.items():
        _set(instruments[0], path, value)
    return out


def _suggest(trial: Any, p: Param) -> Any:
    if p.kind == "categorical":
        return trial.suggest_categorical(p.path, list(p.choices))
    if p.kind == "int":
        step = int(p.step) if p.step else 1
        return trial.suggest_int(p.path, int(p.low), int(p.high), step=step, log=p.log)
    return trial.suggest_float(p.path, p.low, p.high, log=p.log, step=p.step)


def _score(summaries: list[dict[str, Any]], objective: str) -> float:
    if objective == "edge":
        return float(sum(s["edge_at_fill"] for s in summaries))
    if objective == "sharpe":
        values = [s["sharpe_1s"] for s in summaries if s["sharpe_1s"] is not None]
        return float(sum(values) / len(values)) if values else -math.inf
    return float(sum(s[objective] for s in summaries))


def _backtests(opts: SweepOptions, config_path: Path, windows: tuple[str, ...]) -> list[Any]:
    return [
        run_backtest(
            BacktestOptions(
                w, config_path, queue=opts.queue, latency_ms=opts.latency_ms, fees=opts.fees,
                partial_fills=opts.partial_fills, progress=False,
            )
        )
        for w in windows
    ]  # fmt: skip


def _storage(opts: SweepOptions) -> tuple[Any, str]:
    import optuna  # noqa: PLC0415

    url = opts.storage
    if url is None:
        from optuna.storages.journal import JournalFileBackend  # noqa: PLC0415

        path = opts.space.with_suffix(".optuna.log")
        return optuna.storages.JournalStorage(JournalFileBackend(str(path))), str(path)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    error: Exception | None = None
    for attempt in range(5):  # two machines creating the schema at once: one of them retries
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True}), url
        except Exception as exc:  # any driver error is one line for the user
            error = exc
            time.sleep(0.2 * (attempt + 1))
    first = str(error).splitlines()[0] if error is not None else "unknown error"
    raise UserError(f"cannot use storage {opts.storage!r}: {first}")


def _objective(opts: SweepOptions, base: dict[str, Any], space: list[Param], work: Path) -> Any:
    import tomli_w  # noqa: PLC0415

    def objective(trial: Any) -> float:
        values = {p.path: _suggest(trial, p) for p in space}
        config = apply_params(base, values)
        try:
            config_from_data(config)  # a trial outside what the config allows is infeasible
        except (ConfigError, ValueError) as exc:
            trial.set_user_attr("invalid", str(exc))
            trial.set_user_attr("constraint", [1.0])
            trial.set_constraint("valid_config", 1.0)
            return -math.inf
        path = work / f"trial-{os.getpid()}-{trial.number}.toml"
        path.write_text(tomli_w.dumps(config))
        try:
            summaries = _backtests(opts, path, opts.data)
        finally:
            path.unlink(missing_ok=True)
        inventory = max(s["max_inventory"] for s in summaries)
        fills = sum(s["fills"] for s in summaries)
        violations: dict[str, float] = {}
        if opts.max_inventory is not None:
            violations["max_inventory"] = inventory - opts.max_inventory
        if opts.min_fills is not None:
            violations["min_fills"] = float(opts.min_fills - fills)
        for key, value in violations.items():  # feasible when all are <= 0
            trial.set_constraint(key, value)
        trial.set_user_attr("constraint", list(violations.values()) or [0.0])
        trial.set_user_attr("fills", fills)
        trial.set_user_attr("max_inventory", inventory)
        trial.set_user_attr("pnl", sum(s["pnl"] for s in summaries))
        trial.set_user_attr("worker", os.getpid())
        return _score(summaries, opts.objective)

    return objective


def _worker(opts: SweepOptions, study_name: str, n_trials: int, seed: int) -> None:
    """One process of the pool: optimise ``n_trials`` on the shared study."""
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage, _ = _storage(opts)
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    base = tomllib.loads(opts.config.read_text(encoding="utf-8"))
    space = load_space(opts.space)
    work = opts.space.parent
    study.optimize(_objective(opts, base, space, work), n_trials=n_trials)


def run_sweep(opts: SweepOptions) -> SweepResult:
    """Run (or continue) the study; UserError for bad input."""
    import optuna  # noqa: PLC0415

    if opts.objective not in OBJECTIVES:
        raise UserError(
            f"--objective must be one of {', '.join(OBJECTIVES)}, not {opts.objective!r}"
        )
    if opts.trials < 1 or opts.workers < 1:
        raise UserError("--trials and --workers must be at least 1")
    if not opts.data:
        raise UserError("--data needs at least one window")
    load_space(opts.space)  # a bad space fails now, not in every worker
    try:
        base = tomllib.loads(opts.config.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read config {str(opts.config)!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config {opts.config}: not valid TOML: {exc}") from None
    config_from_data(apply_params(base, {}))  # the base config itself must be valid
    from thalex_mm.backtest.data import find_window  # noqa: PLC0415

    for w in (*opts.data, *opts.holdout):
        find_window(w)  # an unknown window fails now, not in trial 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage, where = _storage(opts)
    name = opts.study or f"{opts.config.stem}-{opts.space.stem}-{opts.objective}"
    study = optuna.create_study(
        study_name=name, storage=storage, direction="maximize", load_if_exists=True
    )
    done_before = len(study.trials)
    shares = [
        opts.trials // opts.workers + (i < opts.trials % opts.workers) for i in range(opts.workers)
    ]
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker, args=(opts, name, n, opts.seed + done_before + i))
        for i, n in enumerate(shares)
        if n > 0
    ]
    for p in procs:
        p.start()
    _follow(study, done_before + opts.trials, procs, opts.progress)
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise UserError(f"{len(failed)} sweep worker(s) failed (exit codes {failed})")
    return _result(opts, study, where, base)


def _follow(study: Any, total: int, procs: list[Any], progress: bool) -> None:
    """A progress bar over the study's finished trials until the workers are done."""
    bar = None
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=total, desc="sweep", unit="trial", initial=len(study.trials))
    while any(p.is_alive() for p in procs):
        time.sleep(0.5)
        if bar is not None:
            bar.n = min(total, _finished(study))
            bar.refresh()
    if bar is not None:
        bar.n = min(total, _finished(study))
        bar.close()


def _finished(study: Any) -> int:
    import optuna  # noqa: PLC0415

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return len(study.get_trials(deepcopy=False, states=states))


def _result(opts: SweepOptions, study: Any, where: str, base: dict[str, Any]) -> SweepResult:
    import optuna  # noqa: PLC0415
    import tomli_w  # noqa: PLC0415

    result = SweepResult(study.study_name, where)
    feasible = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        ok = all(v <= 0 for v in t.user_attrs.get("constraint", [0.0]))
        row = {
            "number": t.number,
            "value": t.value,
            "feasible": ok,
            "fills": t.user_attrs.get("fills"),
            "max_inventory": t.user_attrs.get("max_inventory"),
            "worker": t.user_attrs.get("worker"),
            "params": dict(t.params),
        }
        result.trials.append(row)
        if ok and t.value is not None and math.isfinite(t.value):
            feasible.append(row)
    if not feasible:
        return result
    best = max(feasible, key=lambda r: r["value"])
    result.best = best
    config = apply_params(base, best["params"])
    out = opts.out or opts.space.with_name(f"{result.study}-best.toml")
    out.write_text(
        f"# thalex-mm sweep {result.study}: trial {best['number']}, "
        f"{opts.objective} {best['value']:.6g} on {', '.join(opts.data)}\n" + tomli_w.dumps(config)
    )
    result.best_config = out
    if opts.holdout:
        for s in _backtests(opts, out, opts.holdout):
            result.holdout.append(
                {"window": s["window"], "objective": _score([s], opts.objective), "pnl": s["pnl"],
                 "fills": s["fills"], "max_inventory": s["max_inventory"]}
            )  # fmt: skip
    return result


def format_result(r: SweepResult, objective: str, top: int = 10) -> str:
    rows = sorted(
        (t for t in r.trials if t["value"] is not None),
        key=lambda t: (t["feasible"], t["value"]),
        reverse=True,
    )[:top]
    lines = [f"sweep {r.study}: {len(r.trials)} trials in {r.storage}"]
    lines.append(f"  {'trial':>5} {objective:>12} {'fills':>6} {'max inv':>9}  feasible  params")
    for t in rows:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in t["params"].items())
        lines.append(
            f"  {t['number']:>5} {_fmt(t['value']):>12} {t['fills'] or 0:>6} "
            f"{_fmt(t['max_inventory']):>9}  {'yes' if t['feasible'] else 'no':8}  {params}"
        )
    if r.best is None:
        lines.append("  no feasible trial")
        return "\n".join(lines)
    lines.append(f"  best: trial {r.best['number']} -> {r.best_config}")
    for h in r.holdout:
        lines.append(
            f"  holdout {h['window']}: {objective} {_fmt(h['objective'])}, pnl {h['pnl']:+.4f},"
            f" fills {h['fills']}, max inventory {h['max_inventory']:g}"
        )
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
