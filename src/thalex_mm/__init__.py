"""thalex-mm: a market-making engine for the Thalex derivatives exchange."""

__version__ = "0.1.0"
