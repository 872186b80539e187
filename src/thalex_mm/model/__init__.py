"""The quoting model: pure functions and O(1) estimators, no I/O (numpy only)."""
