"""Child process of the crash test: appends records forever, reporting each append.

Usage: python crash_child.py SEGMENT_DIR SQLITE_URL WRITER SEGMENT_SIZE
Prints "run <run_id>" once the journal is open, then one line "<n>" after the n-th record
pair (a Fill and an OrderAction) was appended: one ``append_batch`` for odd n, two
``append`` calls for even n. The parent SIGKILLs it at a random moment.
"""

from __future__ import annotations

import os
import sys
import time

from thalex_mm.journal.journal import open_journal
from thalex_mm.journal.records import Fill, OrderAction


def main() -> None:
    segment_dir, url, writer, segment_size = sys.argv[1:5]
    journal = open_journal(
        url, segment_dir=segment_dir, writer=writer, segment_size=int(segment_size)
    )
    out = sys.stdout.fileno()
    os.write(out, f"run {journal.run_id}\n".encode())
    n = 0
    while True:
        n += 1
        action = OrderAction(
            ts_ns=n,
            strategy="crash",
            instrument="BTC-PERPETUAL",
            action="insert",
            client_order_id=n,
            side=1,
            price=100.0 + n,
            amount=0.1,
        )
        fill = Fill(
            ts_ns=n,
            strategy="crash",
            instrument="BTC-PERPETUAL",
            trade_id=f"{journal.run_id}-{n}",
            order_id=f"o{n}",
            client_order_id=n,
            side=1,
            price=100.0 + n,
            amount=0.1,
            fee=0.001,
            maker_taker="maker",
        )
        if n % 2:
            journal.append_batch([action, fill])
        else:
            journal.append(action)
            journal.append(fill)
        os.write(out, f"{n}\n".encode())
        if n % 20 == 0:
            time.sleep(0.001)  # ~20k steps/s at most: keeps each round's backlog modest


if __name__ == "__main__":
    main()
