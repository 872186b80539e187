"""The local exchange: a simulator that speaks the Thalex protocol over a real matching engine."""
