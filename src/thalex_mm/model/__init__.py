"""The quoting model: pure functions and O(1) estimators, no I/O (numpy only in paper_sim).

- ``formulas``: Avellaneda–Stoikov and GLFT closed forms (plain floats).
- ``ladder``: model prices -> N integer (tick, lot) levels per side.
- ``quote``: ``compute_quotes`` / ``QuoteEngine``, the per-reaction quoting step.
- ``estimators``: volatility (EWMA, window), intensity (A, k), VAMP, volume candles.
- ``paper_sim``: the Avellaneda & Stoikov (2008) Monte Carlo behind ``thalex-mm paper-table``.
"""
