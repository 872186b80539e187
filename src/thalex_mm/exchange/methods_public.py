"""Public query methods: instruments, instrument, ticker, index, book, system_info.

Each handler takes (session, request frame, simulated now in ns) and returns the reply frame;
failures raise FrameError, which the session turns into an error reply.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from thalex_mm.exchange import translate
from thalex_mm.venue.thalex import messages as wire
from thalex_mm.venue.thalex.codes import ErrorCode
from thalex_mm.venue.thalex.requests import (
    IndexParams,
    InstrumentNameParams,
    InstrumentsParams,
)
from thalex_mm.venue.thalex.rpc import FrameError, RequestFrame, decode_params, result_frame

if TYPE_CHECKING:
    from thalex_mm.exchange.engine import ExchangeInstrument
    from thalex_mm.exchange.session import Session

API_VERSION = "2.55.0"
PUBLIC_BOOK_DEPTH = 5
UNKNOWN_UNDERLYING = 40
TEMPORARY_FAILURE = 20


def _known(session: Session, name: str) -> ExchangeInstrument:
    instrument = session.hub.engine.instrument(name)
    if instrument is None:
        shown = name if len(name) <= 40 else name[:37] + "..."
        raise FrameError(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {shown!r}")
    return instrument


def instruments(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    params = decode_params(frame, InstrumentsParams)
    selected = []
    for item in session.hub.engine.instruments():
        spec = item.spec
        if params.underlying is not None and spec.underlying != params.underlying:
            continue
        if params.instrument_type is not None and params.instrument_type != "futures":
            continue  # no options or rolls are listed
        if params.expiry_date is not None:
            if spec.expiry_ts is None:
                continue
            expiry = dt.datetime.fromtimestamp(spec.expiry_ts, tz=dt.UTC).strftime("%Y-%m-%d")
            if expiry != params.expiry_date:
                continue
        selected.append(translate.instrument(item))
    return result_frame(bytes(frame.id), selected)


def instrument(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    params = decode_params(frame, InstrumentNameParams)
    return result_frame(
        bytes(frame.id), translate.instrument(_known(session, params.instrument_name))
    )


def ticker(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    params = decode_params(frame, InstrumentNameParams)
    item = _known(session, params.instrument_name)
    data = session.hub.engine.ticker(item.name, now_ns)
    result = None if data is None else translate.ticker(data, item.spec.kind)
    if result is None:
        raise FrameError(TEMPORARY_FAILURE, f"{item.name} has no mark price yet")
    return result_frame(bytes(frame.id), result)


def index(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    params = decode_params(frame, IndexParams)
    price = session.hub.engine.index_price(params.underlying)
    if price is None:
        shown = params.underlying[:40]
        raise FrameError(UNKNOWN_UNDERLYING, f"unknown underlying {shown!r}")
    stamp = session.hub.engine.index_time_ns(params.underlying) or now_ns
    return result_frame(bytes(frame.id), translate.index(params.underlying, price, stamp))


def book(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    params = decode_params(frame, InstrumentNameParams)
    item = _known(session, params.instrument_name)
    snapshot = session.hub.engine.book(item.name, depth=PUBLIC_BOOK_DEPTH)
    if snapshot is None:
        raise FrameError(ErrorCode.UNKNOWN_INSTRUMENT, f"no book for {item.name}")
    return result_frame(bytes(frame.id), translate.book(snapshot, now_ns))


def system_info(session: Session, frame: RequestFrame, now_ns: int) -> bytes:
    banner = wire.Banner(
        id=1,
        time=session.hub.started_ns / 1e9,
        severity="info",
        title="Local exchange",
        message=f"thalex-mm local exchange simulator: {session.hub.market_name}, no real funds.",
    )
    info = wire.SystemInfo(environment="testnet", banners=[banner], api_version=API_VERSION)
    return result_frame(bytes(frame.id), info)
