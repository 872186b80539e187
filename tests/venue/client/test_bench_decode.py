"""The decode benchmark runs on frames that all decode (a smoke test, no speed assertion)."""

from thalex_mm.bench import decode


def test_quick_run_reports_every_metric_and_frames_decode() -> None:
    metrics = decode.run(quick=True)
    for name in (
        "decode_dispatch_msgs_per_s",
        "decode_only_msgs_per_s",
        "tagged_decode_only_msgs_per_s",
        "envelope_decode_only_msgs_per_s",
        "reply_decode_dispatch_msgs_per_s",
        "encode_amend_us_median",
    ):
        value = metrics[name]
        assert isinstance(value, int | float) and value > 0


def test_frames_route_to_core_events() -> None:
    frames = decode._frames(10, seed=1)
    proto = decode._protocol(convert=True)
    for frame in frames:
        proto.receive(frame, 0)
    assert proto.stats.notifications == 10 and proto.stats.bad_frames == 0
    assert proto.stats.unknown_channels == 0
