"""The sans-I/O trading core: events in, actions out. No sockets, clocks, files or logging.

- ``events``: what the core reacts to (market data, order updates and replies, account, time).
- ``actions``: what it asks the venue to do, and the decisions it reports for the journal.
- ``engine``: ``Engine(EngineConfig).handle(event) -> Output``, routing per instrument.
- ``config``: per-instrument configuration (quoter, orders, risk, accounting) and the engine's.
- ``market_state``, ``quoter``: market view and the desired ladder (model + risk shaping).
- ``orders``, ``order_tracker``, ``order_manager``, ``mass_quote``: our orders' lifecycle and
  the diff from desired to live (per order, or one mass quote per cycle).
- ``position``, ``risk``, ``hedge``, ``guard``: PnL from fills, limits and the kill switch,
  the delta hedge, and the final check every order passes.
"""
