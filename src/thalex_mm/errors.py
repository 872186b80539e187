"""Errors shared across the package."""


class UserError(Exception):
    """A mistake in the user's input (bad flag, bad config field, missing file).

    The CLI reports it as one line naming the problem, never as a traceback.
    """
