"""One line of an error for a user: every module that turns a library's exception into a message uses it."""


def first_line(err: BaseException) -> str:
    """The first non-blank line of the error's message, or the name of its type when it has none (an empty
    message, or one of blank lines, must not end in an ``IndexError`` of its own)."""
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
