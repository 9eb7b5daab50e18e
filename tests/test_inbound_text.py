"""Reading a reply's words (R4): what Amorce applies by itself must be what the person meant;
a sentence that could mislead a keyword reader goes to a coordinator instead."""

from __future__ import annotations

import pytest

from webapp.services.inbound.text import AUTO_THRESHOLD, read_intent

REVIEW = "review"  # not applied: left for a coordinator
UNSUBSCRIBE = "unsubscribe"

RECRUITMENT = [
    ("Oui, ça m'intéresse !", "interested"),
    ("Sounds great, count me in", "interested"),
    ("I can't wait to join!", "interested"),
    ("Je ne peux pas refuser une telle offre !", "interested"),
    ("Do not send me paper forms, I'm in!", "interested"),
    ("Non merci, pas cette année", "not_interested"),
    ("Ça ne m'intéresse pas, merci.", "not_interested"),
    ("Cela ne m'intéresse plus.", "not_interested"),
    ("Pas du tout intéressé.", "not_interested"),
    ("Pas très intéressée, désolée.", "not_interested"),
    ("I am no longer interested.", "not_interested"),
    ("I'm not at all interested.", "not_interested"),
    ("Of course not.", "not_interested"),
    ("Bien sûr que non.", "not_interested"),
    ("Don't count me in.", "not_interested"),
    ("Ne comptez pas sur moi.", "not_interested"),
    ("Je passe mon tour cette fois", "not_interested"),
    ("STOP", UNSUBSCRIBE),
    ("Désabonnez-moi s'il vous plaît", UNSUBSCRIBE),
    ("Non merci, ne m'écrivez plus.", UNSUBSCRIBE),
    ("Non merci, ne m'envoyez plus de courriels.", UNSUBSCRIBE),
    ("No thanks, take my name off your list", UNSUBSCRIBE),
    ("Not interested. Please remove my address from your list.", UNSUBSCRIBE),
    ("Please don't unsubscribe me, I'm interested.", REVIEW),
    ("Je ne veux pas me désabonner, je suis intéressé.", REVIEW),
    ("Stop by my office anytime to discuss.", REVIEW),
    ("Not me, but my colleague would be interested.", REVIEW),
    ("Sounds interesting but I'm too busy right now.", REVIEW),
    ("Unfortunately I missed your first email, but count me in!", REVIEW),
    ("Malheureusement je n'ai pas pu répondre plus tôt, mais je suis très intéressée !", REVIEW),
    ("Combien d'heures par mois ?", REVIEW),
    ("Oui, mais combien d'heures par mois ?", REVIEW),
    ("Merci pour le message.", REVIEW),
]
INVITATION = [
    ("Je serai là", "attending"),
    ("See you there!", "attending"),
    ("I can't make it", "not_attending"),
    ("Je ne pourrai pas venir, désolée", "not_attending"),
    ("Je viens d'apprendre que je serai en congé.", REVIEW),
]


def _applied(text: str, kind: str) -> str:
    """What Amorce would do on its own: an intent it acts on, an unsubscribe, or nothing."""
    reading = read_intent(text, kind)
    if reading.confidence < AUTO_THRESHOLD or reading.intent in ("question", "maybe", "unknown"):
        return REVIEW
    return UNSUBSCRIBE if reading.unsubscribe else str(reading.intent)


@pytest.mark.parametrize(("text", "expected"), RECRUITMENT)
def test_a_reply_to_a_recruitment_email(text: str, expected: str) -> None:
    assert _applied(text, "recruitment") == expected


@pytest.mark.parametrize(("text", "expected"), INVITATION)
def test_a_reply_to_an_invitation(text: str, expected: str) -> None:
    assert _applied(text, "invitation") == expected
