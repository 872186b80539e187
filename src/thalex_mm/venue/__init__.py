"""Venue adapters: wire formats and clients for the exchanges thalex-mm trades on."""
