"""What every ``amorce`` command shares: settings, database, output formats, errors."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from webapp.config import Config, ConfigError
from webapp.db import Database
from webapp.migrate import upgrade
from webapp.services.errors import DomainError

FORMATS = click.Choice(["table", "csv", "json"])
err = Console(stderr=True)


class Context:
    """Settings and database, opened on first use by each command."""

    def __init__(self) -> None:
        self._config: Config | None = None
        self._database: Database | None = None

    @property
    def config(self) -> Config:
        """Settings from the environment; a bad one stops the command with its message."""
        if self._config is None:
            try:
                self._config = Config.from_env()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from exc
            self._config.instance_path.mkdir(parents=True, exist_ok=True)
        return self._config

    @property
    def database(self) -> Database:
        """The database, migrated when it is the embedded SQLite default."""
        if self._database is None:
            self._database = Database(self.config.database_url)
            if self._database.is_sqlite:
                upgrade(self._database.engine)
        return self._database


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> None:
    """Print rows as a table, CSV or JSON."""
    if fmt == "json":
        click.echo(json.dumps(list(rows), ensure_ascii=False, indent=2, default=str))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        Console().print(table)


def domain_errors(func: Any) -> Any:
    """Turn a domain error into a clean message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper
