"""``run.cpu``: the loop's thread pinned for the run, the other CPUs handed to helpers."""

from __future__ import annotations

import os

import pytest

from thalex_mm.app.placement import event_loop_on
from thalex_mm.errors import UserError

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux-only"
)


def test_no_cpu_changes_nothing() -> None:
    before = os.sched_getaffinity(0)
    with event_loop_on(None, needs_helper_cpu=True) as helpers:
        assert helpers == ()
        assert os.sched_getaffinity(0) == before


def test_the_thread_is_pinned_for_the_block_and_restored_after() -> None:
    allowed = os.sched_getaffinity(0)
    cpu = max(allowed)
    with event_loop_on(cpu, needs_helper_cpu=False) as helpers:
        assert os.sched_getaffinity(0) == {cpu}
        assert set(helpers) == allowed - {cpu} and cpu not in helpers
    assert os.sched_getaffinity(0) == allowed


def test_the_affinity_is_restored_when_the_run_fails() -> None:
    allowed = os.sched_getaffinity(0)
    with pytest.raises(RuntimeError), event_loop_on(max(allowed), needs_helper_cpu=False):
        raise RuntimeError("the run failed")
    assert os.sched_getaffinity(0) == allowed


def test_a_cpu_this_process_may_not_use_is_named() -> None:
    with (
        pytest.raises(UserError, match=r"run.cpu = 4095 is not one of the CPUs"),
        event_loop_on(4095, needs_helper_cpu=False),
    ):
        pass


def test_no_cpu_left_for_the_writer_is_refused_only_when_it_needs_one() -> None:
    allowed = os.sched_getaffinity(0)
    only = min(allowed)
    os.sched_setaffinity(0, {only})
    try:
        with (
            pytest.raises(UserError, match="leaves no other CPU for the journal writer"),
            event_loop_on(only, needs_helper_cpu=True),
        ):
            pass
        with event_loop_on(only, needs_helper_cpu=False) as helpers:
            assert helpers == ()
    finally:
        os.sched_setaffinity(0, allowed)
