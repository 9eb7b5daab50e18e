"""The time zones of the polls: the IANA zones known, and a wall-clock time in a zone as UTC,
refusing a time the clocks skip."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from .errors import N_, DomainError


@cache
def known_zones() -> frozenset[str]:
    """The names of the IANA zones this system knows."""
    return frozenset(available_timezones())


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone, or a DomainError naming it."""
    if name not in known_zones():
        raise DomainError(N_("Unknown time zone %(zone)s."), zone=repr(name))
    return ZoneInfo(name)


def local_to_utc(local: datetime, zone_name: str) -> datetime:
    """A wall-clock time in ``zone_name`` as an aware UTC datetime. A time the clocks skip
    (the hour lost in spring) is refused, naming it; a time that happens twice (the hour
    repeated in autumn) is the first occurrence. An aware datetime is only converted."""
    zone = zone_named(zone_name)
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    first = local.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise DomainError(
            N_(
                "%(time)s does not exist in %(zone)s: the clocks go forward at that time. "
                "Choose another time."
            ),
            time=local.strftime("%Y-%m-%d %H:%M"),
            zone=zone_name,
        )
    return first.astimezone(UTC)
