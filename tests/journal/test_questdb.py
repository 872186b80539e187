"""QuestDB sink: the exact InfluxDB-line-protocol bytes the official client sends.

No QuestDB server can run here, so these tests capture what the client puts on the wire with
a local TCP listener (ILP/TCP) and a local HTTP server (ILP/HTTP), and parse it back.
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
from pathlib import Path

import msgspec
import pytest

from thalex_mm.errors import UserError
from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.query import Reader
from thalex_mm.journal.records import TABLE_OF, Fill, QuoteDecision
from thalex_mm.journal.schema import TABLES, row_values
from thalex_mm.journal.sinks.questdb import QuestdbSink, sender_conf

from .helpers import sample_records


class TcpCapture:
    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.data = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while chunk := conn.recv(65536):
                self.data += chunk

    def lines(self) -> list[str]:
        self.thread.join(10)
        self.server.close()
        return self.data.decode().splitlines()


def _parse(line: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    """Split one ILP line (no escaped spaces/commas in our test values)."""
    head, fields, ts = re.match(r"^(\S+) (.+) (\d+)$", line).groups()  # type: ignore[union-attr]
    table, *tags = head.split(",")
    tag_map = dict(t.split("=", 1) for t in tags)
    field_map = dict(f.split("=", 1) for f in re.findall(r'[^,]+?=(?:"[^"]*"|[^,]*)', fields))
    return table, tag_map, {k.lstrip(","): v for k, v in field_map.items()}, int(ts)


def test_rows_become_ilp_lines_with_symbols_fields_and_timestamp():
    capture = TcpCapture()
    sink = QuestdbSink(f"questdb+tcp://127.0.0.1:{capture.port}")
    sink.open()
    fill = Fill(
        ts_ns=1_700_000_000_123_456_789,
        strategy="mm1",
        instrument="BTC-PERPETUAL",
        trade_id="T9",
        order_id="O9",
        client_order_id=42,
        side=-1,
        price=65000.5,
        amount=0.25,
        fee=0.01,
        maker_taker="maker",
    )
    quote = QuoteDecision(
        ts_ns=5, strategy="mm1", instrument="BTC-PERPETUAL", mid=1.0, bids=[[0.5, 1.0]]
    )
    sink.write(
        {
            "fills": [row_values(TABLES["fills"], "run-a", 7, fill)],
            "quotes": [row_values(TABLES["quotes"], "run-a", 8, quote)],
        },
        "jid",
        0,
        0,
    )
    sink.close()
    lines = capture.lines()
    assert len(lines) == 2
    table, tags, fields, ts = _parse(lines[0])
    assert table == "fills"
    assert tags == {"run_id": "run-a", "strategy": "mm1", "instrument": "BTC-PERPETUAL"}
    assert ts == fill.ts_ns
    assert fields["seq"] == "7i"
    assert fields["client_order_id"] == "42i"
    assert fields["side"] == "-1i"
    assert float(fields["price"]) == fill.price
    assert fields["trade_id"] == '"T9"'
    assert "position_after" not in fields  # None values are left out
    table, _, fields, ts = _parse(lines[1])
    assert (table, ts) == ("quotes", 5)
    assert msgspec.json.decode(fields["bids"][1:-1].replace('\\"', '"')) == [[0.5, 1.0]]


def test_journal_over_http_sends_every_record_once(tmp_path: Path):
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # /settings probe: answer "not supported" -> ILP v1
            self.send_response(404)
            self.end_headers()

        def do_POST(self) -> None:
            assert self.path.startswith("/write")
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"questdb://127.0.0.1:{server.server_address[1]}"
        records = sample_records(10)
        journal = open_journal(url, segment_dir=tmp_path / "seg", writer="thread")
        for record in records:
            journal.append(record)
        assert journal.flush(10)
        journal.close()
    finally:
        server.shutdown()
    lines = b"".join(bodies).decode().splitlines()
    seqs = sorted(int(_parse(line)[2]["seq"][:-1]) for line in lines)
    assert seqs == list(range(1, len(records) + 1))
    tables = sorted(_parse(line)[0] for line in lines)
    assert tables == sorted(TABLE_OF[type(r)] for r in records)


def test_questdb_urls_and_read_back_refusal():
    assert sender_conf("questdb://db.example:9000") == "http::addr=db.example:9000;"
    assert sender_conf("questdb+tcp://h") == "tcp::addr=h:9009;"
    assert sender_conf("questdb://u:p@h") == "http::addr=h:9000;username=u;password=p;"
    with pytest.raises(UserError, match="write-only"):
        Reader("questdb://localhost:9000")
