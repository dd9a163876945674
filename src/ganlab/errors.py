"""The exception types a stage turns into a one-line error message.

They live here, below every other module, so that params validation, the models and the data
code can all raise them without importing each other.
"""


class GanlabError(Exception):
    """A problem the user can fix: a bad parameter, a missing file, an unreadable input."""


class ParamsError(GanlabError):
    """A bad key or value in params.yaml; the message names the key."""
