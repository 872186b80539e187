"""``thalex-mm report``: what a run earned and why, from the journal alone.

``load`` reads a run (the only I/O), ``metrics`` computes the numbers, ``html`` renders the
page and ``text`` the terminal table. See docs/report.md.
"""
