"""The live ``thalex-mm watch`` app (Textual): the dashboard frame, redrawn a few times a
second from the snapshot. It only reads shared memory, so it can run anywhere the file is
visible (another terminal, an ssh session) and never slows the engine."""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from thalex_mm.monitor.dashboard import History, frame
from thalex_mm.monitor.snapshot import SnapshotReader


class WatchApp(App[None]):
    """Refreshes every ``interval_s``; q quits, p pauses."""

    TITLE = "thalex-mm watch"
    BINDINGS: ClassVar[list[BindingType]] = [
        ("q", "quit", "quit"),
        ("p", "pause", "pause / resume"),
    ]
    CSS = "#frame { padding: 0 1; }"

    def __init__(self, reader: SnapshotReader, interval_s: float = 0.25) -> None:
        super().__init__()
        self.reader = reader
        self.interval_s = interval_s
        self.history = History()
        self.paused = False
        self.frames = 0  # frames drawn (the tests watch it grow)
        self.last_frame: RenderableType | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="frame")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(self.interval_s, self.redraw)

    def redraw(self) -> None:
        if self.paused:
            return
        snap = self.reader.read()
        base = self.history.add(snap)
        self.last_frame = frame(snap, alive=self.reader.engine_alive(), base=base)
        self.query_one("#frame", Static).update(self.last_frame)
        self.frames += 1

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.sub_title = "paused" if self.paused else ""
