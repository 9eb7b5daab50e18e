"""The real stack: the `amorce` CLI, a Celery worker on Redis, an SMTP sink, both databases."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import redis
from builders import community_with_people
from processes import STACK_DB, WORKER, redis_db, start_process, stop_process, subprocess_env
from sink import Sink
from sqlalchemy import select

from webapp import create_app
from webapp.config import Config
from webapp.db import Database
from webapp.models import Membership
from webapp.services import activity_series
from workers.factory import make_celery

pytestmark = pytest.mark.integration

PROSPECTS = 25


@pytest.fixture
def stack_env(database: Database, smtp_sink: Sink, tmp_path: Path) -> dict[str, str]:
    db_number = redis_db(STACK_DB)
    redis.Redis(host="127.0.0.1", port=6379, db=db_number).flushdb()
    env = subprocess_env(
        database_url=database.url,
        broker_url=f"redis://127.0.0.1:6379/{db_number}",
        smtp_url=smtp_sink.url,
        instance=tmp_path / "instance",
        organization="Université Test",
        postal_address="1 rue de l'Université, Québec",
        contact_email="cop@example.org",
        sweep_seconds="2",
    )
    return env


@pytest.fixture
def worker(stack_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_process(WORKER, stack_env, tmp_path / "worker.log")
    yield process
    stop_process(process)


def amorce(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run the CLI; fail the test with its output when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )
    assert result.returncode == 0, f"amorce {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_cli_campaign_through_a_worker_reaches_every_prospect(
    stack_env: dict[str, str],
    worker: subprocess.Popen[bytes],
    smtp_sink: Sink,
    tmp_path: Path,
    config: Config,
) -> None:
    rows = ["email,first_name,last_name,language,organization,timezone"]
    rows += [
        f"p{i}@example.org,Prénom{i},Nom{i},{'en' if i % 3 == 0 else 'fr'},Org {i},America/Toronto"
        for i in range(PROSPECTS)
    ]
    prospects = tmp_path / "network.csv"
    prospects.write_text("\n".join(rows) + "\n", encoding="utf-8")

    amorce(stack_env, "db", "upgrade")
    amorce(
        stack_env,
        "communities",
        "create",
        "CoP Intégration",
        "--slug",
        "cop-int",
        "--benefit",
        "Partager vos pratiques",
    )
    amorce(
        stack_env,
        "people",
        "import",
        "cop-int",
        str(prospects),
        "--source",
        "network",
        "--consent",
        "express",
    )
    campaign_id = int(
        amorce(stack_env, "campaigns", "launch", "cop-int", "--kind", "recruitment").strip()
    )

    smtp_sink.wait_for(PROSPECTS, timeout=90)
    status = json.loads(
        amorce(stack_env, "campaigns", "status", str(campaign_id), "--format", "json")
    )[0]
    assert status["sent"] == PROSPECTS and status["pending"] == 0
    recipients = [r for e in smtp_sink.envelopes for r in e.rcpt_tos]
    assert sorted(recipients) == sorted(f"p{i}@example.org" for i in range(PROSPECTS))
    for message in smtp_sink.messages:
        assert message.get_body(("plain",)) and message.get_body(("html",))
        assert message["List-Unsubscribe"] and message["List-Unsubscribe-Post"]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Université Test" in text and "http://127.0.0.1:5000/r/" in text

    # The prospect answers through their link; the CLI then lists them as interested.
    link = re.search(
        r"http://127\.0\.0\.1:5000(/r/\S+)",
        smtp_sink.to("p1@example.org")[0].get_body(("plain",)).get_content(),
    )  # type: ignore[union-attr]
    assert link
    app = create_app(config.with_overrides(broker_url="memory://"))
    client = app.test_client()
    assert client.get(link.group(1)).status_code == 303
    page = client.get("/respond").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answered = client.post(
        "/respond",
        data={
            "csrf_token": token,
            "question_interest_level": "high",
            "question_participation_level": "active",
        },
    )
    assert answered.status_code == 303
    app.extensions["amorce"].database.dispose()

    listing = list(
        csv.DictReader(
            io.StringIO(amorce(stack_env, "people", "list", "cop-int", "--format", "csv"))
        )
    )
    states = {row["email"]: row["state"] for row in listing}
    assert states["p1@example.org"] == "interested"
    assert sum(1 for s in states.values() if s == "invited") == PROSPECTS - 1
    assert {
        "email",
        "first_name",
        "last_name",
        "language",
        "organization",
        "source",
        "state",
        "suppressed",
        "consent",
    } <= set(listing[0])


def test_launch_wait_delivers_exactly_once_and_unsubscribed_are_never_mailed(
    stack_env: dict[str, str],
    worker: subprocess.Popen[bytes],
    smtp_sink: Sink,
    tmp_path: Path,
) -> None:
    prospects = tmp_path / "few.csv"
    prospects.write_text(
        "email,first_name\nuna@example.org,Una\ndeux@example.org,Deux\ntrois@example.org,Trois\n",
        encoding="utf-8",
    )
    amorce(stack_env, "communities", "create", "CoP Attente", "--slug", "cop-wait")
    amorce(
        stack_env,
        "people",
        "import",
        "cop-wait",
        str(prospects),
        "--source",
        "list",
        "--consent",
        "implied",
        "--consent-note",
        "Membres du réseau depuis 2024",
    )
    output = amorce(stack_env, "campaigns", "launch", "cop-wait", "--kind", "recruitment", "--wait")
    assert "3 sent" in output
    assert len(smtp_sink.envelopes) == 3

    # One-click unsubscribe, then a new prospect list and a second campaign: no mail to her.
    message = smtp_sink.to("una@example.org")[0]
    url = re.search(r"<http://127\.0\.0\.1:5000(/u/[^>]+)>", str(message["List-Unsubscribe"]))
    assert url
    app = create_app(Config.from_env(stack_env).with_overrides(broker_url="memory://"))
    response = app.test_client(use_cookies=False).post(
        url.group(1), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200 and "Location" not in response.headers
    app.extensions["amorce"].database.dispose()
    listing = amorce(stack_env, "people", "list", "cop-wait", "--format", "json")
    una = next(p for p in json.loads(listing) if p["email"] == "una@example.org")
    assert una["suppressed"] == "true"


def test_the_activity_clock_invites_through_a_real_worker(
    stack_env: dict[str, str],
    worker: subprocess.Popen[bytes],
    smtp_sink: Sink,
    database: Database,
) -> None:
    rule = "FREQ=WEEKLY;BYDAY=TU;BYHOUR=12;BYMINUTE=0;BYSECOND=0"
    with database.session() as session:
        community_id = community_with_people(
            session,
            "email,first_name,language,timezone\n"
            "ana@example.org,Ana,fr,America/Toronto\nben@example.org,Ben,en,Europe/Paris\n",
            timezone="America/Toronto",
        )
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        activity_series.create_series(
            session,
            community_id,
            activity_series.SeriesData(
                title="Midi-causerie",
                rrule=rule,
                timezone="America/Toronto",
                first_start=activity_series.first_start(
                    rule, "America/Toronto", date.today() + timedelta(days=1)
                ),
                invite_days=8,  # the first Tuesday is at most a week away: due now
            ),
            actor="t",
        )
        session.commit()
    # What the beat sends every five minutes: the worker launches the invitation and queues it.
    celery = make_celery(Config.from_env(stack_env))
    celery.send_task("activities.tick")
    smtp_sink.wait_for(2, timeout=60)
    assert sorted(r for e in smtp_sink.envelopes for r in e.rcpt_tos) == [
        "ana@example.org",
        "ben@example.org",
    ]
    invitation = smtp_sink.to("ben@example.org")[0]
    assert invitation["Subject"] == "CoP: Activity"
    assert any(p.get_content_type() == "text/calendar" for p in invitation.walk())
