"""Errors the services raise; adapters turn them into messages a person reads."""

from __future__ import annotations


class DomainError(Exception):
    """A request that the domain refuses, with a message fit for the person who made it."""


class NotFound(DomainError):
    """The thing does not exist, or the caller may not see it."""


class InvalidToken(DomainError):
    """A personal link that is unknown, expired or revoked (never says which)."""
