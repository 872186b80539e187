"""Wiring: joins the venue client, the core and the journal on one event loop."""
