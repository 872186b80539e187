"""What the core asks the venue to do (actions) and what it tells the journal (decisions).

Actions are in int ticks and lots; the venue edge converts with ``InstrumentSpec``
(``ticks_to_price``, ``lots_to_amount``). Every action has an engine-unique ``action_id``
that the edge must echo on the reply event (``OrderUpdate.reply_to``,
``ActionRejected.action_id``, ...). For ``Amend`` and ``Cancel`` the edge addresses the
order by ``order_id`` when it is non-empty, else by ``client_order_id`` (valid only on the
session that inserted it). ``Amend.amount_lots`` has the venue's meaning: the new *original*
amount, i.e. already-filled lots plus the wanted remaining lots (volume-safe).

Decisions are plain records (never logged by the core) for the journal and the app's logs.
"""

from __future__ import annotations

import enum

import msgspec

from thalex_mm.domain import Level, Side

Ladder = tuple[Level, ...]


# --- actions -------------------------------------------------------------------------------
class Insert(msgspec.Struct, frozen=True, gc=False):
    action_id: int
    instrument: str
    client_order_id: int
    side: Side
    price_ticks: int
    amount_lots: int
    post_only: bool = True
    reduce_only: bool = False
    label: str = ""
    immediate_or_cancel: bool = False  # hedges only; quotes are always GTC post-only


class Amend(msgspec.Struct, frozen=True, gc=False):
    action_id: int
    instrument: str
    client_order_id: int | None
    order_id: str
    price_ticks: int
    amount_lots: int  # new original amount = filled + wanted remaining


class Cancel(msgspec.Struct, frozen=True, gc=False):
    action_id: int
    instrument: str
    client_order_id: int | None
    order_id: str


class CancelAll(msgspec.Struct, frozen=True, gc=False):
    """The kill switch: ``private/cancel_all`` (and ``cancel_mass_quote`` when
    ``include_mass_quotes``)."""

    action_id: int
    reason: str
    include_mass_quotes: bool = False


class MassQuote(msgspec.Struct, frozen=True, gc=False):
    """One ``private/mass_quote`` entry: both sides replace the previous quotes atomically;
    an empty side removes that side's quotes."""

    action_id: int
    instrument: str
    bids: Ladder
    asks: Ladder
    label: str = ""
    post_only: bool = True


class SetMMProtection(msgspec.Struct, frozen=True, gc=False):
    """Configure (or refill) the product's market-maker protection group; amounts in
    contracts, as on the wire."""

    action_id: int
    product: str
    trade_amount: float
    quote_amount: float


Action = Insert | Amend | Cancel | CancelAll | MassQuote | SetMMProtection


# --- decisions (for the journal and logs) --------------------------------------------------
class TradingState(enum.IntEnum):
    ACTIVE = 0
    REDUCING = 1
    HALTED = 2


class QuoteReport(msgspec.Struct, frozen=True, gc=False):
    """The model's inputs and output for one quoting cycle, after risk shaping. ``A``/``k``
    are the bid side's (sell takers'), ``ask_A``/``ask_k`` the ask side's; ``fee`` is the
    maker fee per contract the distances include (price units); ``shift`` and ``widen``
    are the signals' adjustments (price units); ``stressed`` the volatility regime."""

    now_ns: int
    instrument: str
    mid: float
    sigma: float
    A: float
    k: float
    position_lots: int
    reservation_price: float
    bids: Ladder
    asks: Ladder
    state: TradingState
    size_factor: float
    ask_A: float = float("nan")  # noqa: N815 - the model's notation
    ask_k: float = float("nan")
    fee: float = 0.0
    shift: float = 0.0
    widen: float = 0.0
    stressed: bool = False


class NoQuoteReport(msgspec.Struct, frozen=True, gc=False):
    now_ns: int
    instrument: str
    reason: str


class RiskStateChanged(msgspec.Struct, frozen=True, gc=False):
    now_ns: int
    instrument: str
    old: TradingState
    new: TradingState
    reason: str


class KillSwitch(msgspec.Struct, frozen=True, gc=False):
    now_ns: int
    instrument: str  # "" for the portfolio-wide limit
    reason: str
    total_pnl: float


class PositionDiscrepancy(msgspec.Struct, frozen=True, gc=False):
    """Our position disagrees with ``account.portfolio`` for longer than the grace period
    (``resolved=True``: they agree again)."""

    now_ns: int
    instrument: str
    core_lots: int
    venue_lots: int
    core_average_price: float
    venue_average_price: float
    resolved: bool = False


class GuardRejection(msgspec.Struct, frozen=True, gc=False):
    """The final guard refused to send an order (the action was dropped)."""

    now_ns: int
    instrument: str
    price_ticks: object
    amount_lots: object
    reason: str


class OrderAnomaly(msgspec.Struct, frozen=True, gc=False):
    """A reply or update the core did not expect (rejections, unknown orders, timeouts)."""

    now_ns: int
    instrument: str
    client_order_id: int | None
    order_id: str
    what: str
    code: int = 0


class FillAnomaly(msgspec.Struct, frozen=True, gc=False):
    """A fill that fails the sanity checks (price far from the mark, an order this engine did
    not place). It is counted all the same (the venue's position is real); ``halted``: the
    engine stopped adding risk because of it (``accounting.anomalous_fill = "halt"``)."""

    now_ns: int
    instrument: str
    trade_id: str
    order_id: str
    client_order_id: int | None
    what: str
    halted: bool


class HedgeReport(msgspec.Struct, frozen=True, gc=False):
    """A hedge order went out (``hedge_lots``), or was capped or blocked (``reason`` says
    why; ``hedge_lots`` 0 when nothing was sent)."""

    now_ns: int
    instrument: str
    net_delta_lots: int
    hedge_side: Side
    hedge_lots: int
    reason: str = ""


Decision = (
    QuoteReport
    | NoQuoteReport
    | RiskStateChanged
    | KillSwitch
    | PositionDiscrepancy
    | GuardRejection
    | OrderAnomaly
    | FillAnomaly
    | HedgeReport
)


class Output:
    """What one ``Engine.handle`` call produced: actions to send, decisions to journal."""

    __slots__ = ("actions", "decisions")

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.decisions: list[Decision] = []
