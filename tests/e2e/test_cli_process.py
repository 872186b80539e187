"""`thalex-mm run` as a real process: duration, summary JSON, SIGTERM, bad config."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from thalex_mm.app.run_stats import INSTRUMENT_KEYS, RUN_KEYS
from thalex_mm.domain import Side
from thalex_mm.exchange.local import LocalExchange

from .conftest import exchange_config, wait_until

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("THALEX_MM_PRIVATE_KEY", None)
    return env


async def _spawn(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    """Run in ``cwd`` (a temp dir) so the default journal (./data) stays out of the checkout."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "thalex_mm", "run", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=cwd,
    )  # fmt: skip


async def test_run_duration_exits_zero_and_writes_the_summary(tmp_path: Path) -> None:
    out_file = tmp_path / "summary.json"
    proc = await _spawn("--duration", "5", "--summary-json", str(out_file), cwd=tmp_path)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    text = stdout.decode()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert "thalex-mm run: local exchange" in text  # the start line
    assert "run summary:" in text and "BTC-PERPETUAL" in text
    assert "Traceback" not in stderr.decode()
    summary = json.loads(out_file.read_text())
    assert set(RUN_KEYS) <= set(summary)
    inst = summary["instruments"]["BTC-PERPETUAL"]
    assert set(INSTRUMENT_KEYS) <= set(inst)
    assert summary["stop_reason"] == "duration"
    assert 4.5 <= summary["duration_s"] < 15
    assert inst["quotes_inserted"] > 0
    # the text and the JSON report the same numbers
    assert f"inserted {inst['quotes_inserted']}," in text
    assert f"{inst['fills']} fills" in text
    # the PnL's sources add up (to the JSON's 6-digit rounding), and say so in words
    sources = (
        inst["edge_usd"] + inst["inventory_pnl"] + inst["carried_pnl"] - inst["fees"]
        + inst["funding"]
    )  # fmt: skip
    assert abs(sources - inst["total_pnl"]) < 1e-5 and inst["unexplained_pnl"] == 0.0
    assert f"= total {inst['total_pnl']:+.4f}" in text and "why       " in text
    for h in (1, 5, 30):  # each fill measured at each horizon or counted as left out
        assert inst[f"markout_{h}s_fills"] + inst[f"markout_{h}s_left_out"] == inst["fills"]


async def test_sigterm_leaves_no_open_orders(tmp_path: Path) -> None:
    async with LocalExchange(exchange_config()) as ex:
        key = ex.new_test_key()
        pem = tmp_path / "private.pem"
        pem.write_bytes(key.private_pem)
        out_file = tmp_path / "summary.json"
        proc = await _spawn(
            "--url", ex.url, "--key-id", key.key_id, "--private-key-file", str(pem),
            "--summary-json", str(out_file), cwd=tmp_path,
        )  # fmt: skip
        try:
            await wait_until(
                lambda: (
                    {o.direction for o in ex.engine.open_orders(key.account)}
                    == {Side.BUY, Side.SELL}
                ),
                30.0,
                "the subprocess to quote both sides",
            )
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert ex.engine.open_orders(key.account) == []
    assert "run summary:" in stdout.decode()
    assert json.loads(out_file.read_text())["stop_reason"] == "SIGTERM"


async def test_bad_config_field_fails_at_start_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[instruments]]\nname = "BTC-PERPETUAL"\n[instruments.risk]\nmax_postion = 1\n')
    proc = await _spawn("--config", str(cfg), "--duration", "5", cwd=tmp_path)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "instruments[0].risk.max_postion" in lines[0]
    assert "Traceback" not in stderr.decode() and stdout == b""


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):  # after "(comm)": state, ppid, ...
            found.append(int(stat.parent.name))
    return found


async def test_run_cpu_puts_the_loop_on_its_core_and_the_writer_elsewhere(tmp_path: Path) -> None:
    """``run.cpu`` with busy polling: the engine's loop on that CPU, the journal writer
    process on the others (inherited, it would starve at SCHED_IDLE on a busy-polled core)."""
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs two CPUs to give the loop one of its own")
    cpu = max(allowed)
    cfg = tmp_path / "pinned.toml"
    cfg.write_text(f"[run]\ncpu = {cpu}\nbusy_poll = true\n")
    proc = await _spawn("--config", str(cfg), "--duration", "6", cwd=tmp_path)
    try:
        writer: list[int] = []

        def writer_started() -> bool:
            writer[:] = [
                child for child in _children(proc.pid)
                if b"writer_main" in Path(f"/proc/{child}/cmdline").read_bytes()
            ]  # fmt: skip
            return bool(writer) and os.sched_getaffinity(writer[0]) == allowed - {cpu}

        await wait_until(writer_started, 30.0, "the writer process to run on the other CPUs")
        assert os.sched_getaffinity(proc.pid) == {cpu}  # the event loop's thread
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert "run summary:" in stdout.decode()


async def test_run_cpu_outside_the_allowed_set_fails_at_start_naming_it(tmp_path: Path) -> None:
    cfg = tmp_path / "pinned.toml"
    cfg.write_text("[run]\ncpu = 4095\n")
    proc = await _spawn("--config", str(cfg), "--duration", "5", cwd=tmp_path)
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert "run.cpu = 4095 is not one of the CPUs" in stderr.decode()
    assert "Traceback" not in stderr.decode()
