"""The journal: a durable, off-loop record of every order, fill and decision."""
