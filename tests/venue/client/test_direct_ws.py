"""The direct WebSocket path: frames cut out of any chunking reach ``on_frame`` in order,
control frames still get websockets' handling, and our client frames parse as RFC 6455."""

from __future__ import annotations

import asyncio
import itertools
import os
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.streams import StreamReader
from websockets.uri import parse_uri
from websockets.utils import accept_key

from thalex_mm.venue.thalex.client_io import ClientIO
from thalex_mm.venue.thalex.direct_ws import DirectConnection, client_text_frames


class _Transport:
    """Just enough of an asyncio transport: records writes."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _open_connection(max_size: int | None = 2**20) -> tuple[DirectConnection, list[bytes], Any]:
    """A connection after a real opening handshake (fed by hand), with ``on_frame`` set."""
    proto = ClientProtocol(parse_uri("ws://127.0.0.1:1/ws"), max_size=max_size)
    conn = DirectConnection(proto, ping_interval=None)
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    request = proto.connect()
    proto.send_request(request)
    accept = accept_key(request.headers["Sec-WebSocket-Key"])
    conn.data_received(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    assert proto.state is State.OPEN and conn.response is not None
    transport.written.clear()
    got: list[bytes] = []
    conn.on_frame = got.append
    return conn, got, transport


def _server_frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=False)


def _chunks(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


def _payload(length: int, seed: bytes) -> bytes:
    return (seed * (length // len(seed) + 1))[:length]


# lengths around the 7-bit / 16-bit / 64-bit length-encoding boundaries, varied content
payloads = st.builds(
    _payload,
    st.one_of(st.integers(0, 130), st.integers(65530, 65540)),
    st.binary(min_size=1, max_size=16),
)


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.sampled_from(["text", "binary", "ping", "fragmented"]), payloads),
        max_size=12,
    ),
    cuts=st.lists(st.integers(0, 10**6), max_size=20),
)
async def test_any_chunking_delivers_every_data_frame_in_order_and_answers_pings(
    messages: list[tuple[str, bytes]], cuts: list[int]
) -> None:
    conn, got, transport = _open_connection()
    stream = b""
    expected: list[bytes] = []
    pings: list[bytes] = []
    fragmented: list[bytes] = []
    for kind, data in messages:
        if kind == "ping":
            ping = data[:125]  # control frames carry at most 125 bytes
            stream += _server_frame(Opcode.PING, ping)
            pings.append(ping)
        elif kind == "fragmented":  # three frames: TEXT (no FIN), CONT, CONT (FIN)
            a, b = len(data) // 3, 2 * len(data) // 3
            stream += _server_frame(Opcode.BINARY, data[:a], fin=False)
            stream += _server_frame(Opcode.CONT, data[a:b], fin=False)
            stream += _server_frame(Opcode.CONT, data[b:], fin=True)
            fragmented.append(data)
        else:
            stream += _server_frame(Opcode.TEXT if kind == "text" else Opcode.BINARY, data)
            expected.append(data)
    for chunk in _chunks(stream, cuts):
        conn.data_received(chunk)
    received = [  # what the client's reader task takes
        await asyncio.wait_for(conn.recv(decode=False), 1.0) for _ in fragmented
    ]
    assert got == expected
    assert received == fragmented  # websockets reassembled them, in order
    # websockets answered every ping with a masked pong carrying the same data
    reader = StreamReader()
    reader.feed_data(bytes(transport.written))
    pongs = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as stop:
            pongs.append(stop.value)
    assert [f.opcode for f in pongs] == [Opcode.PONG] * len(pings)
    assert [bytes(f.data) for f in pongs] == pings
    assert conn.protocol.state is State.OPEN


async def test_fragmented_messages_take_websockets_path_and_later_frames_still_arrive() -> None:
    conn, got, _ = _open_connection()
    stream = (
        _server_frame(Opcode.TEXT, b"a1")
        + _server_frame(Opcode.TEXT, b'{"part":', fin=False)
        + _server_frame(Opcode.CONT, b"1}", fin=True)
        + _server_frame(Opcode.TEXT, b"a2")
    )
    conn.data_received(stream)
    assert got == [b"a1", b"a2"]
    assert await conn.recv(decode=False) == b'{"part":1}'  # the reader task gets it
    assert conn.fast_frames >= 1  # a1 at least took the fast path


async def test_a_frame_over_max_size_fails_the_connection_and_is_not_delivered() -> None:
    conn, got, _ = _open_connection(max_size=100)
    conn.data_received(
        _server_frame(Opcode.TEXT, b"x" * 50) + _server_frame(Opcode.TEXT, b"y" * 101)
    )
    assert got == [b"x" * 50]
    assert conn.protocol.state is not State.OPEN


async def test_a_close_frame_hands_the_rest_to_websockets() -> None:
    conn, got, _ = _open_connection()
    close = Frame(Opcode.CLOSE, b"\x03\xe8bye").serialize(mask=False)
    conn.data_received(
        _server_frame(Opcode.TEXT, b"before") + close + _server_frame(Opcode.TEXT, b"after")
    )
    assert got == [b"before"]  # nothing is delivered once the closing handshake started
    assert conn.protocol.state is not State.OPEN


async def test_frames_before_on_frame_is_set_wait_for_recv() -> None:
    conn, got, _ = _open_connection()
    conn.on_frame = None
    conn.data_received(_server_frame(Opcode.TEXT, b"early"))
    assert got == []
    assert await conn.recv(decode=False) == b"early"


@settings(max_examples=40, deadline=None)
@given(st.lists(payloads, min_size=1, max_size=4))
def test_client_frames_parse_as_masked_text_frames(payload_list: list[bytes]) -> None:
    masks = os.urandom(4 * len(payload_list))
    data = client_text_frames(payload_list, masks)
    reader = StreamReader()
    reader.feed_data(data)
    frames = []
    for _ in payload_list:
        parser = Frame.parse(reader.read_exact, mask=True)
        with pytest.raises(StopIteration) as stop:
            next(parser)
        frames.append(stop.value.value)
    assert not reader.buffer  # nothing left over
    assert [f.opcode for f in frames] == [Opcode.TEXT] * len(payload_list)
    assert all(f.fin for f in frames)
    assert [bytes(f.data) for f in frames] == payload_list


def test_client_frames_are_masked_with_the_given_keys() -> None:
    payload = b"A" * 8
    data = client_text_frames([payload], b"\x01\x02\x03\x04")
    assert data[:2] == bytes((0x81, 0x80 | 8))
    assert data[2:6] == b"\x01\x02\x03\x04"
    assert data[6:] == bytes(b ^ m for b, m in zip(payload, b"\x01\x02\x03\x04" * 2, strict=True))


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 5])
async def test_a_control_frame_split_anywhere_is_still_answered(cut: int) -> None:
    """websockets consumes a frame header before its payload arrives: the bytes that follow
    must go to it, not be taken for a new frame."""
    conn, got, transport = _open_connection()
    # the ping's payload looks like a text frame: taken for one, it would be delivered
    stream = _server_frame(Opcode.PING, b"\x81\x02xy") + _server_frame(Opcode.TEXT, b"next")
    conn.data_received(stream[:cut])
    conn.data_received(stream[cut:])
    assert got == [b"next"]
    assert bytes(transport.written)[:1] == b"\x8a"  # a pong went out
    assert conn.protocol.state is State.OPEN


class _Outgoing:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def take_outgoing(self) -> list[bytes]:
        out, self.frames = self.frames, []
        return out


def test_flush_writes_each_batch_once_with_fresh_mask_keys() -> None:
    io = ClientIO()
    transport = _Transport()
    writes: list[bytes] = []
    transport.write = writes.append  # type: ignore[method-assign, assignment]
    io._ws = SimpleNamespace(  # type: ignore[assignment]
        protocol=SimpleNamespace(state=State.OPEN), transport=transport
    )
    proto = _Outgoing()
    io.protocol = proto  # type: ignore[assignment]
    io.tx_batches = io.tx_frames = 0
    batches: list[int] = []
    counts: list[int] = []
    io.on_batch_written = lambda batch, w, t, n: (batches.append(batch), counts.append(n))
    sent = [[b'{"id":%d}' % (10 * b + i) for i in range(b + 1)] for b in range(300)]
    for batch in sent:
        proto.frames = list(batch)
        io._flush()
    assert len(writes) == len(sent) and batches == list(range(1, len(sent) + 1))
    assert counts == [len(b) for b in sent]  # each batch reports the frames it carried
    assert io.tx_frames == sum(len(b) for b in sent)
    keys = []
    for data, batch in zip(writes, sent, strict=True):
        reader = StreamReader()
        reader.feed_data(data)
        for payload in batch:
            with pytest.raises(StopIteration) as stop:
                next(Frame.parse(reader.read_exact, mask=True))
            assert bytes(stop.value.value.data) == payload
        keys.append(data[2:6])
    assert len(set(keys)) > len(keys) - 3  # random 32-bit keys, not one reused key
    proto.frames = [b"x"]
    io._ws.protocol.state = State.CLOSING  # type: ignore[union-attr]
    io._flush()
    assert len(writes) == len(sent) and proto.frames == [b"x"]  # kept for connection_lost
