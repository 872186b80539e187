"""Thalex JSON-RPC error codes: the one list, for the client and the local exchange alike.

Only 1 (order not found) and 4 (throttled) are confirmed by official examples; the others come
from the third-party Rust SDK enum (see protocol.md §5.2). Code 14 covers both an invalid
quantity and one not aligned with the volume tick. Compare against these names, never
against literal numbers.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    ORDER_NOT_FOUND = 1
    DUPLICATE_ORDER_ID = 2
    THROTTLE_EXCEEDED = 4
    UNKNOWN_INSTRUMENT = 5
    INVALID_REQUEST = 6
    NOT_LOGGED_IN = 7
    ALREADY_SUBSCRIBED = 8
    NOT_SUBSCRIBED = 9
    INVALID_PRICE = 13
    INVALID_AMOUNT = 14
    PRICE_NOT_ALIGNED = 15
    UNKNOWN_PRODUCT = 17
    AUTHENTICATION_FAILED = 19
    INVALID_PROT_GROUP = 22
    PROT_NOT_SET = 23
    INSUFFICIENT_MARGIN = 24
    INVALID_TIME_IN_FORCE = 25
    UNKNOWN_METHOD = 31
    INVALID_STATE = 37
    INSUFFICIENT_LIQUIDITY = 41
    PRICE_COLLAR_BREACH = 43
    QUOTE_EXCEEDS_PROT_GROUP_SIZE = 44
    TOO_MANY_OPEN_ORDERS = 49
    PERSISTENT_SESSION = 52
    REDUCE_ONLY = 57
