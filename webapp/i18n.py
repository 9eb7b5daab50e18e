"""Translations read straight from the .po catalogs (no compiled files), for pages and emails."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask_babel import Babel, Domain, get_locale

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALES = ("fr", "en")


@cache
def translations_for(locale: str) -> Translations | NullTranslations:
    """The catalog of a locale, compiled in memory once per process."""
    path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def pick_locale(*candidates: str | None) -> str:
    """The first supported locale among the candidates, French otherwise."""
    for candidate in candidates:
        if candidate in LOCALES:
            return str(candidate)
    return "fr"


class PoDomain(Domain):
    """A Flask-Babel domain serving our in-memory catalogs."""

    def get_translations(self) -> Translations | NullTranslations:
        locale = get_locale()
        return translations_for(str(locale) if locale else "fr")


class PoBabel(Babel):
    """Flask-Babel wired to :class:`PoDomain`."""

    @property
    def domain_instance(self) -> Domain:
        return _DOMAIN


_DOMAIN = PoDomain()


def reader_locale() -> str:
    """The language of the person reading the page (French by default)."""
    return str(get_locale() or "fr")
