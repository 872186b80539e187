"""Engine-wide id allocation: action ids (echoed back on replies) and client order ids.

Both are plain increasing ints. Client order ids start at a configurable value, so a
restarted engine can begin above the last id the previous run used (the journal knows it)
and never collides with an order that is still live.
"""

from __future__ import annotations


class IdSource:
    __slots__ = ("next_action_id", "next_client_order_id")

    def __init__(self, first_client_order_id: int = 1, first_action_id: int = 1) -> None:
        if first_client_order_id < 1 or first_action_id < 1:
            raise ValueError("ids start at 1 or above")
        self.next_client_order_id = first_client_order_id
        self.next_action_id = first_action_id

    def action_id(self) -> int:
        value = self.next_action_id
        self.next_action_id = value + 1
        return value

    def client_order_id(self) -> int:
        value = self.next_client_order_id
        self.next_client_order_id = value + 1
        return value
