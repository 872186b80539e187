"""One short real session: exchange process + Runner in a child; the counters add up."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from thalex_mm.bench import engine_load, sustained
from thalex_mm.bench.engine_load import SessionOptions, run_session
from thalex_mm.bench.exchange_proc import DEFAULT_MARKET, ExchangeProcess


def test_exchange_process_answers_stats() -> None:
    with ExchangeProcess({**DEFAULT_MARKET, "market": False}) as ex:
        assert ex.hello is not None
        assert ex.hello.url.startswith("ws://127.0.0.1:")
        assert "BTC-PERPETUAL" in {i.name for i in ex.hello.instruments}
        stats = ex.stats()
        assert stats["quotes"] == {}  # nobody has logged in, let alone quoted
        assert stats["totals"]["frames_out"] == 0
        assert stats["cpu_s"] > 0
    assert ex.process is not None and ex.process.returncode == 0


def test_short_session_counts_every_frame() -> None:
    result = run_session(
        SessionOptions(instruments=1, warmup_s=0.5, measure_s=2.0, ab_phases=2, rss_every_s=0.5)
    )
    count = result["count"]
    # the client received exactly what the exchange queued for it: nothing dropped
    assert count["client_frames"] > 0
    assert count["session"]["frames_out"] == count["client_frames"]
    assert sustained.dropped(result) == 0
    assert result["md_msgs"] > 0 and result["instruments"] == 1
    assert result["quotes_live_pct"] > 0  # BTC-PERPETUAL was quoted on the venue
    assert len(result["rss"]) >= 2 and all(mb > 10 for _, mb in result["rss"])
    assert set(result["lag_phases"]) == {"on0", "off0"}  # journal on, then off
    assert result["log_bytes"] >= 0
    assert any("logged in" in line for line in result["log_samples"])


def test_a_failed_session_keeps_its_whole_output(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = "\n".join(f"log line {i}" for i in range(50)) + "\nRequestFailedError: boom"

    def failed(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(engine_load.subprocess, "run", failed)
    with pytest.raises(RuntimeError, match="boom") as info:
        run_session(SessionOptions(instruments=1, measure_s=1.0))
    path = Path(str(info.value).rsplit("its whole output: ", 1)[1].rstrip(")"))
    try:
        kept = path.read_text(encoding="utf-8")
        assert "log line 0\n" in kept and "boom" in kept  # all of it, not just the tail
    finally:
        path.unlink()
