import io
import logging
import threading

from thalex_mm.app.logs import QueueLogging


def test_records_are_written_by_the_listener_thread_not_the_caller() -> None:
    stream = io.StringIO()
    writer_threads: list[str] = []

    class Spy(io.StringIO):
        def write(self, s: str) -> int:
            writer_threads.append(threading.current_thread().name)
            return stream.write(s)

    with QueueLogging(stream=Spy()):
        logging.getLogger("thalex_mm.test").info("quoting %s", "BTC-PERPETUAL")
        logging.getLogger("thalex_mm.test").debug("hidden at the default level")
    text = stream.getvalue()
    assert "INFO  thalex_mm.test: quoting BTC-PERPETUAL" in text
    assert "hidden" not in text
    assert writer_threads and threading.main_thread().name not in writer_threads


def test_verbose_shows_debug_and_stop_restores_root() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    stream = io.StringIO()
    with QueueLogging(verbose=True, stream=stream):
        logging.getLogger("x").debug("detail")
    assert "DEBUG x: detail" in stream.getvalue()
    assert root.handlers == before
