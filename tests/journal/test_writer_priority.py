"""The writer process runs at SCHED_IDLE by default (the engine's loop comes first)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from thalex_mm.errors import UserError
from thalex_mm.journal import open_journal

linux_only = pytest.mark.skipif(
    not hasattr(os, "sched_getscheduler"), reason="scheduler classes are Linux-only"
)


def _writer_policy(journal: object) -> int:
    pid = journal._writer._proc.pid  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the child sets it after reading its settings
        policy = os.sched_getscheduler(pid)
        if policy == os.SCHED_IDLE:
            return policy
        time.sleep(0.02)
    return os.sched_getscheduler(pid)


@linux_only
def test_default_writer_process_is_idle_class(tmp_path: Path) -> None:
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}")
    try:
        assert _writer_policy(journal) == os.SCHED_IDLE
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the engine itself is untouched
    finally:
        journal.close()


@linux_only
def test_normal_priority_keeps_the_default_class(tmp_path: Path) -> None:
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer_priority="normal")
    try:
        time.sleep(0.3)  # long enough for the child to have applied a priority if asked
        assert os.sched_getscheduler(journal._writer._proc.pid) == os.SCHED_OTHER  # type: ignore[attr-defined]
    finally:
        journal.close()


def test_a_bad_priority_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="writer_priority must be 'idle' or 'normal', not 'high'"):
        open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer_priority="high")


def _writer_affinity(journal: object, expected: set[int]) -> set[int]:
    pid = journal._writer._proc.pid  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the child places itself after reading its settings
        cpus = os.sched_getaffinity(pid)
        if cpus == expected:
            return cpus
        time.sleep(0.02)
    return os.sched_getaffinity(pid)


affinity_only = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux-only"
)


@affinity_only
def test_writer_cpus_place_the_writer_process_and_not_the_engine(tmp_path: Path) -> None:
    allowed = os.sched_getaffinity(0)
    target = {max(allowed)}  # a CPU this machine surely has
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer_cpus=sorted(target))
    try:
        assert _writer_affinity(journal, target) == target
        assert os.sched_getaffinity(0) == allowed  # the engine itself is untouched
    finally:
        journal.close()


@affinity_only
def test_without_writer_cpus_the_writer_inherits_the_engines_cpus(tmp_path: Path) -> None:
    journal = open_journal(f"sqlite:///{tmp_path / 'j.db'}")
    try:
        time.sleep(0.3)  # long enough for the child to have placed itself if asked
        assert os.sched_getaffinity(journal._writer._proc.pid) == os.sched_getaffinity(0)  # type: ignore[attr-defined]
    finally:
        journal.close()


def test_bad_writer_cpus_are_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="writer_cpus must be CPU numbers"):
        open_journal(f"sqlite:///{tmp_path / 'j.db'}", writer_cpus=[-1])


def test_writer_pid_names_the_writer_process_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    with open_journal(url, segment_dir=tmp_path / "p") as journal:
        pid = journal.writer_pid
        assert pid is not None and pid != os.getpid()
        assert Path(f"/proc/{pid}").exists() or not Path("/proc").exists()
    for writer in ("thread", "none"):
        with open_journal(url, segment_dir=tmp_path / writer, writer=writer) as journal:
            assert journal.writer_pid is None
