"""Messages filled into a skeleton rendered once per batch equal a full render per recipient."""

from __future__ import annotations

import random
import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import pytest

from webapp.config import Config
from webapp.mail import EmailRenderer, HeaderInjection, OutgoingMessage, _encoded
from webapp.models import Campaign, Community, Person
from webapp.services import campaigns, messages
from webapp.services.messages import MessageContext, message_for

RENDERER = EmailRenderer()
VOLATILE = {"Date", "Message-ID", "Content-Type"}  # Content-Type carries the boundary
NAMED = {
    "fr": {
        "subject": "{{ first_name }} {{last_name}}, rejoignez {{ community }}",
        "message": "Bonjour **{{ first_name }}** {{ last_name }},\n\n"
        "> {{ first_name }}, *votre* avis compte.\n\n- {{ community }}\n- {{ last_name }}",
    },
    "en": {
        "subject": "{{ first_name }}: join {{ community }}",
        "message": "Hello {{ first_name }} {{ last_name }},\n\n"
        "# {{ community }}\n\n_{{ first_name }}_",
    },
}
PEOPLE = [
    ("Anne", "Tremblay", "fr"),
    ("John", "Smith", "en"),
    ("", "", "en"),
    ("", "Roy", "fr"),
    ("Zoë", "李", "en"),
    ("<b>Anne</b>", "O'Brien", "fr"),
    ("Tom & Jerry", "Anne*", "en"),
    ("Jean-François", "D'Amour", ""),
    ("Anne ", "Roy", "fr"),  # edge spaces: rendered in full
]


@pytest.fixture
def settings(tmp_path: Path) -> Config:
    return Config(
        secret_key="x" * 32,
        instance_path=tmp_path,
        base_url="https://cop.example.org",
        mail_from="Amorce <amorce@example.org>",
        reply_domain="reply.example.org",
    )


def community() -> Community:
    return Community(
        name="CoP Pédagogie",
        slug="cop",
        language="fr",
        sender_name="Équipe CoP",
        organization="Université Test",
        postal_address="2325 rue de l'Université, Québec",
        contact_email="cop@example.org",
        benefits=["Partager vos pratiques", "Apprendre <vraiment> des collègues"],
    )


def context(kind: str, content: dict[str, dict[str, str]] | None = None) -> MessageContext:
    content = content or campaigns.default_content(kind)
    return MessageContext(community(), Campaign(kind=kind, content=content))


def person(first: str, last: str, language: str) -> Person:
    return Person(email="p@example.org", first_name=first, last_name=last, language=language)


def build(
    settings: Config, ctx: MessageContext, who: Person, step: int = 0, *, cache: bool = True
) -> OutgoingMessage:
    return message_for(settings, RENDERER, ctx, who, 42, "TOKEN-abc", step, cache=cache)


def comparable(message: OutgoingMessage) -> tuple[object, bytes]:
    """Headers but the volatile ones, and the body with its boundary blanked."""
    boundary = re.search(r'boundary="([^"]+)"', message["Content-Type"] or "")
    assert boundary is not None
    headers = [(key, value) for key, value in message.headers if key not in VOLATILE]
    return headers, message.body.replace(boundary[1].encode(), b"BOUNDARY")


def parts(message: OutgoingMessage) -> tuple[str, str, str]:
    """Subject, text and HTML, decoded."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    return str(parsed["Subject"]), text.get_content(), html.get_content()


@pytest.mark.parametrize("step", [0, 1])
@pytest.mark.parametrize("kind", ["recruitment", "announcement", "named"])
def test_the_skeleton_gives_the_bytes_of_a_full_render(
    settings: Config, kind: str, step: int
) -> None:
    ctx = context("recruitment", NAMED) if kind == "named" else context(kind)
    for first, last, language in PEOPLE:
        who = person(first, last, language)
        cached, full = build(settings, ctx, who, step), build(settings, ctx, who, step, cache=False)
        assert comparable(cached) == comparable(full), (first, last, language)
        assert parts(cached) == parts(full)
    assert ctx.skeletons and all(skeleton is not None for skeleton in ctx.skeletons.values())


def test_names_are_text_never_markdown_nor_html(settings: Config) -> None:
    ctx = context("recruitment", NAMED)
    who = person("*Bob* &copy; <i>", "Été", "en")
    subject, text, html = parts(build(settings, ctx, who))
    assert subject == "*Bob* &copy; <i>: join CoP Pédagogie"
    assert "Hello *Bob* &copy; <i> Été," in text
    assert "<p>Hello *Bob* &amp;copy; &lt;i&gt; Été,</p>" in html
    assert "<em>*Bob* &amp;copy; &lt;i&gt;</em>" in html  # the coordinator's emphasis stays
    assert "<title>*Bob* &amp;copy; &lt;i&gt;: join CoP Pédagogie</title>" in html
    assert "<i>" not in html and "<em>Bob</em>" not in html and "©" not in html


def test_a_name_cannot_spell_a_mark(settings: Config) -> None:
    ctx = context("recruitment", NAMED)
    mark = messages._MARKS["Lk"]
    _, text, html = parts(build(settings, ctx, person(mark, "", "en")))
    assert f"Hello {mark}," in text and f"Hello {mark}," in html
    assert text.count("https://cop.example.org/r/TOKEN-abc") == 1


@pytest.mark.parametrize(
    "message",
    [
        "Bonjour {{ first_name|upper }} !",
        "Bonjour{% if first_name %} {{ first_name }}{% endif %} !",
        "{% filter upper %}Bonjour {{ first_name }}{% endfilter %}",
        "Bonjour {{- first_name }} !",
        "Voir [votre page](https://cop.example.org/{{ first_name }}).",
    ],
)
def test_other_uses_of_a_name_are_rendered_in_full(settings: Config, message: str) -> None:
    content = {locale: {"subject": "Bonjour", "message": message} for locale in ("fr", "en")}
    ctx = context("recruitment", content)
    who = person("Anne", "Roy", "fr")
    cached = build(settings, ctx, who)
    assert list(ctx.skeletons.values()) == [None]
    assert comparable(cached) == comparable(build(settings, ctx, who, cache=False))
    if "|upper" in message:
        assert "Bonjour ANNE !" in parts(cached)[1]


@pytest.mark.parametrize("first", ["Anne\r\nBcc: evil@example.org", "Anne\nX: y"])
@pytest.mark.parametrize("kind", ["recruitment", "named"])
def test_a_line_break_in_a_name_is_refused(settings: Config, first: str, kind: str) -> None:
    ctx = context("recruitment", NAMED) if kind == "named" else context(kind)
    with pytest.raises(HeaderInjection):
        build(settings, ctx, person(first, "Roy", "fr"))


def test_a_subject_with_a_name_is_encoded(settings: Config) -> None:
    message = build(settings, context("recruitment", NAMED), person("Zoë", "李", "fr"), 1)
    assert message.as_bytes().isascii()
    subject = message["Subject"] or ""
    assert subject.startswith("=?utf-8?b?") and all(
        len(line) <= 76 for line in subject.split("\r\n")
    )
    assert parts(message)[0] == "Rappel : Zoë 李, rejoignez CoP Pédagogie"


def test_encoded_words_round_trip_and_stay_short() -> None:
    rng = random.Random(7)
    for _ in range(500):
        value = "".join(rng.choice("aé李😀 «»\u0301") for _ in range(rng.randint(1, 90)))
        encoded = _encoded(value)
        assert all(len(line) <= 76 for line in encoded.split("\r\n"))
        assert str(make_header(decode_header(encoded.replace("\r\n", "")))) == value
