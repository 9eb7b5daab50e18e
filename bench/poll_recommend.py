"""P6: the availability poll's recommended slot, 5,000 respondents x 300 slots, target <= 200 ms.

    python bench/poll_recommend.py --respondents 5000 --slots 300 --runs 5

For each database (a temporary SQLite file; a temporary schema in PostgreSQL's ``test`` database,
dropped at the end), it migrates an empty schema, then bulk inserts, before any timing:

- a community with ``--respondents`` people who may answer (selected volunteers and members,
  half each), 2 % more who answered and then withdrew (``not_interested``: their answers must not
  count), and as many prospects who never answered;
- a poll with ``--slots`` slots, a quarter of them with a room capacity, a facilitator (weight 3)
  and a sponsor (weight 2) drawn among the respondents;
- an answer from every respondent (and every withdrawn person) for every slot, drawn at random
  (seeded): ``--respondents x --slots`` rows and 2 % more (1.5 million at the defaults).

The recommendation counts on an index on ``poll_answers (poll_id, slot_id, answer)``: when the
migrated schema has none, the bench creates ``ix_poll_answers_poll_slot_answer`` before the
answers go in and says so (``index_created_by_bench``); ``--without-index`` measures without it
(seconds, not milliseconds). Then ANALYZE (and on PostgreSQL VACUUM, as autovacuum would have
done on a poll that took days to fill).

What is timed is ``webapp.services.poll_scores.recommendation_of``, the recommendation that
``amorce meetings poll`` and the coordinator's choice of a slot use (the SQL counts, the key
people's answers, the scoring), in a new session each run, after one warm-up run; figures are
the median and min of ``--runs`` runs, in ms. ``heat_map_ms`` times once, for comparison,
``recommendation_for``: the heat map with every name and its recommendation, what the
recommendation cost before it came from counts (``--skip-heat-map`` leaves it out); both must
recommend the same.

Progress goes to stderr; stdout gets one JSON object. ``--postgres-url`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) says where the schema goes; ``--only``
measures one database.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# This checkout's webapp, whatever ``pip install -e`` points at.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _stack import REPO, code_version, seed_community  # noqa: E402
from campaign_throughput import machine_info, summary  # noqa: E402
from sqlalchemy import create_engine, insert, inspect, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from webapp.db import Database  # noqa: E402
from webapp.migrate import upgrade  # noqa: E402
from webapp.models import Membership, MembershipState, Person, PollSlot  # noqa: E402
from webapp.services import poll_scores, polls  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_MS = 200.0  # P6
WITHDRAWN = 0.02  # of the respondents: answered, then withdrew
ANSWERS = (("yes", 0.45), ("if_need_be", 0.2), ("no", 0.35))
CHUNK = 5000
INDEX = "ix_poll_answers_poll_slot_answer"  # what slot_counts reads
INDEX_COLUMNS = ("poll_id", "slot_id", "answer")
# The modules the timed recommendation runs through, digested into ``polls_sha256``.
ENGINE = (
    "polls.py",
    "poll_zones.py",
    "poll_slots.py",
    "poll_answers.py",
    "poll_results.py",
    "poll_scores.py",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--respondents", type=int, default=5000, help="people who may answer")
    parser.add_argument("--slots", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="one database only")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="the schema goes there")
    parser.add_argument("--skip-heat-map", action="store_true", help="do not time the heat map")
    parser.add_argument(
        "--without-index", action="store_true", help=f"do not create {INDEX} when missing"
    )
    args = parser.parse_args(argv)
    if args.respondents < 2 or args.slots < 1 or args.runs < 1:
        parser.error("--respondents must be at least 2, --slots and --runs positive")
    return args


# -- the databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(workdir: Path) -> Iterator[Database]:
    """A migrated SQLite file in ``workdir``."""
    database = Database(f"sqlite:///{workdir / 'poll_recommend.db'}")
    try:
        upgrade(database.engine)
        yield database
    finally:
        database.dispose()


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[Database]:
    """A migrated schema of its own in the database at ``url``, dropped at the end."""
    schema = f"amorce_p6_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = None
    try:
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        database = Database(scoped.render_as_string(hide_password=False))
        upgrade(database.engine)
        yield database
    finally:
        if database is not None:
            database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# -- the poll ----------------------------------------------------------------------------------


def _people(database: Database, community_id: int, states: list[str], prefix: str) -> list[int]:
    """Insert people and their memberships, one state each; returns their ids in order."""
    ids: list[int] = []
    with database.engine.begin() as connection:
        for start in range(0, len(states), CHUNK):
            chunk = states[start : start + CHUNK]
            rows = [
                {
                    "email": f"{prefix}{start + i}@example.org",
                    "first_name": f"Prénom{(start + i) % 977}",
                    "last_name": f"Nom{(start + i) // 977}",
                    "language": "fr",
                    "timezone": "America/Toronto",
                }
                for i in range(len(chunk))
            ]
            made = connection.execute(insert(Person).returning(Person.id), rows).scalars().all()
            connection.execute(
                insert(Membership),
                [
                    {"community_id": community_id, "person_id": pid, "state": state}
                    for pid, state in zip(made, chunk, strict=True)
                ],
            )
            ids += made
    return ids


def _answer_rows(
    poll_id: int, slot_ids: list[int], people: list[int], rng: random.Random
) -> Iterator[tuple[int, int, int, str]]:
    values, weights = zip(*ANSWERS, strict=True)
    for person_id in people:
        drawn = rng.choices(values, weights, k=len(slot_ids))
        for slot_id, value in zip(slot_ids, drawn, strict=True):
            yield poll_id, slot_id, person_id, value


def _insert_answers(database: Database, rows: Iterator[tuple[int, int, int, str]]) -> None:
    """COPY on PostgreSQL, executemany on SQLite: the fastest each has."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    columns = "poll_id, slot_id, person_id, answer, updated_at"
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if database.is_sqlite:
            cursor.executemany(
                f"INSERT INTO poll_answers ({columns}) VALUES (?, ?, ?, ?, ?)",
                ((*row, now) for row in rows),
            )
        else:
            with cursor.copy(f"COPY poll_answers ({columns}) FROM STDIN") as copy:
                block = io.StringIO()
                for count, (poll_id, slot_id, person_id, value) in enumerate(rows, 1):
                    block.write(f"{poll_id}\t{slot_id}\t{person_id}\t{value}\t{now}\n")
                    if count % 100_000 == 0:
                        copy.write(block.getvalue())
                        block = io.StringIO()
                copy.write(block.getvalue())
        raw.commit()
    finally:
        raw.close()


def ensure_index(database: Database, create: bool) -> dict[str, Any]:
    """Whether the schema has an index on ``poll_answers (poll_id, slot_id, answer)``; create
    it when missing and ``create``."""
    for index in inspect(database.engine).get_indexes("poll_answers"):
        if set(index["column_names"][:3]) == set(INDEX_COLUMNS):
            return {"index": index["name"], "index_created_by_bench": False}
    if not create:
        return {"index": None, "index_created_by_bench": False}
    with database.engine.begin() as connection:
        connection.execute(
            text(f"CREATE INDEX {INDEX} ON poll_answers ({', '.join(INDEX_COLUMNS)})")
        )
    return {"index": INDEX, "index_created_by_bench": True}


def seed_poll(
    database: Database, respondents: int, slots: int, seed: int, index: bool
) -> dict[str, Any]:
    """The community, the poll, its slots, key people and every answer; returns the poll's id
    and what was made."""
    rng = random.Random(seed)
    tag = f"p6-{os.getpid()}-{rng.randrange(10**6)}"
    community_id = seed_community(database, tag, f"{tag}-", 0)
    withdrawn = max(1, round(respondents * WITHDRAWN))
    states = [MembershipState.SELECTED, MembershipState.MEMBER] * (respondents // 2 + 1)
    eligible = _people(database, community_id, states[:respondents], f"{tag}-m")
    gone = _people(database, community_id, ["not_interested"] * withdrawn, f"{tag}-w")
    _people(database, community_id, [MembershipState.PROSPECT] * respondents, f"{tag}-p")
    with database.session() as session:
        poll_id = polls.create_poll(
            session,
            community_id,
            title="Rencontre de fondation",
            timezone="America/Toronto",
            actor="bench",
        )
        first = datetime(2031, 3, 2, 14, 0, tzinfo=UTC)
        session.execute(
            insert(PollSlot),
            [
                {
                    "poll_id": poll_id,
                    "starts_at": first + timedelta(hours=7 * i),
                    "duration_minutes": 120,
                    "place": f"Salle {i % 7}",
                    "capacity": rng.choice([40, 400, 2500, 4000]) if i % 4 == 0 else None,
                    "position": i,
                }
                for i in range(slots)
            ],
        )
        slot_ids = list(session.scalars(select(PollSlot.id).where(PollSlot.poll_id == poll_id)))
        facilitator, sponsor = rng.sample(eligible, 2)
        polls.set_role(session, poll_id, facilitator, "facilitator", 3.0, actor="bench")
        polls.set_role(session, poll_id, sponsor, "sponsor", 2.0, actor="bench")
    indexed = ensure_index(database, index)
    _insert_answers(database, _answer_rows(poll_id, slot_ids, eligible + gone, rng))
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        tables = "poll_answers, poll_slots, poll_roles, polls, memberships, persons"
        connection.execute(text("ANALYZE" if database.is_sqlite else f"VACUUM ANALYZE {tables}"))
    return {
        "poll_id": poll_id,
        "answers": (respondents + withdrawn) * slots,
        "withdrawn_who_answered": withdrawn,
        "prospects": respondents,
        **indexed,
    }


# -- timing ------------------------------------------------------------------------------------


def timed_ms(database: Database, work: Callable[[Any], Any]) -> tuple[float, Any]:
    """Run ``work(session)`` in a new session; its wall time in ms and its result."""
    with database.session() as session:
        began = time.perf_counter()
        result = work(session)
        return (time.perf_counter() - began) * 1000, result


def measure(
    database: Database, args: argparse.Namespace, say: Callable[[str], None]
) -> dict[str, Any]:
    """Seed, then time the recommendation (and the command line's rows and the heat map once)."""
    name = database.engine.dialect.name
    began = time.perf_counter()
    made = seed_poll(database, args.respondents, args.slots, args.seed, not args.without_index)
    poll_id = made.pop("poll_id")
    seed_seconds = time.perf_counter() - began
    say(f"{name}: seeded {made['answers']} answers in {seed_seconds:.1f} s")

    def recommendation(session: Any) -> poll_scores.Recommendation:
        return poll_scores.recommendation_of(session, poll_id)

    _, expected = timed_ms(database, recommendation)  # warm-up
    runs, same = [], True
    for _ in range(args.runs):
        elapsed, got = timed_ms(database, recommendation)
        same = same and got == expected
        runs.append(elapsed)
    figures = summary(runs)
    say(f"{name}: recommendation {figures['median']} ms median, {figures['min']} ms min")
    order = [score.slot_id for score in expected.scores]
    result: dict[str, Any] = {
        "recommendation_ms": figures,
        "meets_target": figures["median"] <= TARGET_MS,
        "same_recommendation_every_run": same,
        "recommended_slot_position": (
            order.index(expected.slot_id) if expected.slot_id is not None else None
        ),
        "cli_poll_rows_ms": round(
            timed_ms(database, lambda session: poll_scores.poll_rows(session, poll_id))[0], 2
        ),
        "seed_seconds": round(seed_seconds, 1),
        **made,
    }
    if not args.skip_heat_map:
        elapsed, (_, from_heat) = timed_ms(
            database, lambda session: poll_scores.recommendation_for(session, poll_id)
        )
        result["heat_map_ms"] = round(elapsed, 2)
        result["heat_map_gives_the_same_recommendation"] = from_heat == expected
        say(f"{name}: heat map with every name, and its recommendation: {elapsed:.0f} ms")
    return result


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    """Both databases, one after the other."""
    machine = machine_info()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="amorce-p6-") as workdir:
        if args.only in (None, "sqlite"):
            with sqlite_database(Path(workdir)) as database:
                figures["sqlite"] = measure(database, args, say)
        if args.only in (None, "postgresql"):
            with postgres_schema(args.postgres_url) as database:
                figures["postgresql"] = measure(database, args, say)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "bench": "poll_recommend",
        "target_ms": TARGET_MS,
        "meets_target": all(f["meets_target"] for f in figures.values()),
        **figures,
        "parameters": {
            "respondents": args.respondents,
            "slots": args.slots,
            "runs": args.runs,
            "seed": args.seed,
            "timed": "webapp.services.poll_scores.recommendation_of, a new session per run, warm",
            "engine": code_version(
                [REPO / "webapp" / "services" / name for name in ENGINE], "polls_sha256"
            ),
        },
        "machine": machine,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the bench; progress on stderr, one JSON object on stdout."""
    args = parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result = run(args, say)
    except Exception as exc:  # reported, never hidden
        traceback.print_exc()
        print(json.dumps({"bench": "poll_recommend", "error": str(exc) or repr(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
