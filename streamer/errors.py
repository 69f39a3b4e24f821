"""The error type every user-facing failure raises."""


class StreamerError(Exception):
    """A problem the user can fix; its message is one line naming the problem and the fix."""
