"""Errors the services raise; adapters turn them into messages a person reads, in their language."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


class DomainError(Exception):
    """A request the domain refuses: an English message with ``%(name)s`` parameters.

    ``str(error)`` is the English text (the CLI prints it); pages translate ``message`` and
    then apply ``params``.
    """

    def __init__(self, message: str = "", **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)


class NotFound(DomainError):
    """The thing does not exist, or the caller may not see it."""


class InvalidToken(DomainError):
    """A personal link that is unknown, expired or revoked (never says which)."""
