"""Automatic mail is recognised as such (RELIABILITY R1), people's replies are not."""

from __future__ import annotations

from email import message_from_string
from email.message import Message

import pytest

from webapp.services.inbound import automatic_reason


def parse(headers: str, body: str = "Bonjour,\n") -> Message:
    return message_from_string(headers.strip() + "\n\n" + body)


HUMAN = """
From: Marie Tremblay <marie@example.org>
To: reply+42.abcdef0123456789@reply.example.org
Subject: Re: Rejoignez la communauté
Message-ID: <1@example.org>
Return-Path: <marie@example.org>
"""

SAMPLES = {
    "gmail vacation responder": (
        """
From: Marie <marie@gmail.com>
Subject: Absence : Re: Rejoignez la communauté
Auto-Submitted: auto-replied
Precedence: bulk
Return-Path: <marie@gmail.com>
""",
        "auto_submitted",
    ),
    "exchange out of office": (
        """
From: Jean <jean@ulaval.example>
Subject: Réponse automatique : Rejoignez la communauté
X-Auto-Response-Suppress: All
Return-Path: <jean@ulaval.example>
""",
        "auto_response_suppress",
    ),
    "old autoresponder": (
        """
From: Bob <bob@example.net>
Subject: Out of the office
X-Autoreply: yes
""",
        "autoresponder",
    ),
    "bulk precedence": (
        """
From: News <news@example.com>
Subject: Weekly news
Precedence: junk
""",
        "precedence",
    ),
    "mailing list echo": (
        """
From: Marie <marie@example.org>
Subject: Re: [cop] Rejoignez la communauté
List-Id: CoP <cop.lists.example.org>
""",
        "mailing_list",
    ),
    "delivery status notification": (
        """
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b"
""",
        "report",
    ),
    "bounce with a null return path": (
        """
From: postmaster@example.org
Subject: Delivery failure
Return-Path: <>
""",
        "null_sender",
    ),
    "bounce from the mailer daemon": (
        """
From: Mailer <mailer-daemon@example.org>
Subject: failure notice
Return-Path: <MAILER-DAEMON@example.org>
""",
        "null_sender",
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_automatic_mail_is_recognised(name: str) -> None:
    headers, reason = SAMPLES[name]
    assert automatic_reason(parse(headers)) == reason


def test_a_persons_reply_is_not_automatic() -> None:
    assert automatic_reason(parse(HUMAN, "Oui, ça m'intéresse !\n")) is None


def test_auto_submitted_no_means_a_person_wrote_it() -> None:
    assert automatic_reason(parse(HUMAN + "Auto-Submitted: no\n")) is None


def test_the_smtp_envelope_wins_over_the_headers() -> None:
    message = parse(HUMAN)
    assert automatic_reason(message, envelope_from="") == "null_sender"
    assert automatic_reason(message, envelope_from="marie@example.org") is None
