"""The one exception type a stage turns into a one-line error message."""


class GanlabError(Exception):
    """A problem the user can fix: a bad parameter, a missing file, an unreadable input."""
