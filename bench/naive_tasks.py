"""The naive Flask way, for comparison: one Celery task per email, a new SMTP connection each.

Each task renders the Jinja templates (compiled once per process, as Flask does), builds the
message with the modern ``email.message.EmailMessage`` API and opens a fresh connection to
send it. It touches no database, which flatters it. Start it with
``celery -A naive_tasks worker`` from ``bench/`` with ``BENCH_BROKER_URL`` and ``BENCH_SMTP_PORT``.
"""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from functools import cache
from pathlib import Path

from celery import Celery
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent.parent / "email_templates"
QUEUE = "naive"
SENDER = "naive@bench.example.org"

app = Celery("naive", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


MESSAGE = (
    "We are starting a community of practice, and we think your experience would make a "
    "difference. Taking part is voluntary: you choose how much you get involved."
)


@app.task(name="naive.send_one")
def send_one(email: str, first_name: str, language: str, token: str) -> None:
    """Render, build and send one email over a new connection."""
    env = _environment()
    link = f"http://127.0.0.1:5000/r/{token}"
    values = {
        "locale": language,
        "subject": "Join the community “Pédagogie numérique”",
        "first_name": first_name,
        "community_name": "Pédagogie numérique",
        "benefits": ["Share your practices", "Solve real problems together", "Stay current"],
        "message_text": MESSAGE,
        "message_html": Markup(f"<p>{MESSAGE}</p>"),
        "link": link,
        "unsubscribe_url": f"http://127.0.0.1:5000/u/{token}",
        "sender": {
            "name": "Coordination",
            "organization": "Université de démonstration",
            "postal_address": "2325, rue de l'Université, Québec (Québec) G1V 0A6",
            "contact_email": "cop@example.org",
        },
    }
    message = EmailMessage()
    message["Subject"] = values["subject"]
    message["From"] = f"Coordination <{SENDER}>"
    message["To"] = f"{first_name} <{email}>"
    message.set_content(env.get_template("recruitment.txt").render(values))
    message.add_alternative(env.get_template("recruitment.html").render(values), subtype="html")
    with smtplib.SMTP("127.0.0.1", int(os.environ["BENCH_SMTP_PORT"]), timeout=60) as smtp:
        smtp.send_message(message)
