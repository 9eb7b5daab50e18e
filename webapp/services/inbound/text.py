"""What a person wrote: the new text of a reply, and what it means (RELIABILITY R4).

The quoted original holds the very words we look for ("intéressé·e ?", "unsubscribe"), so intent
is read from the new text only: quotes, the "Le … a écrit :" / "De : … Objet :" blocks of French
and English clients and signatures are cut first (mail-parser-reply, plus a few rules for what it
leaves). Intent then comes from small French and English lexicons; a reply that says one clear
thing in a few words gets a high confidence, anything longer, mixed or unclear a low one, and low
confidence goes to a coordinator instead of an action.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from email.message import Message
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

from webapp.models import Intent

_PARSER = EmailReplyParser(languages=["fr", "en"])
MAX_TEXT = 20_000  # characters of a body worth reading
MAX_PARSED = 4_000  # characters handed to the quote parser

# What the new text ends before: the lines clients put above a quote and the phone signatures.
_CUT = re.compile(
    r"^\s*(?:--\s*$|__{3,}|-{3,}\s*(?:original message|message d'origine|forwarded message|"
    r"message transf[ée]r[ée])|>|(?:de|from)\s*:\s|envoy[ée] (?:de|depuis) mon|sent from my|"
    r"get outlook for|t[ée]l[ée]chargez outlook|obtenir outlook pour|"
    r"le .{4,80} a [ée]crit\s*:|on .{4,80} wrote\s*:)",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"^\s*(?:le .{4,80} a [ée]crit\s*:|on .{4,80} wrote\s*:)\s*$", re.IGNORECASE
)
_FORWARD = re.compile(
    r"^\s*-{3,}\s*(?:forwarded message|message transf[ée]r[ée]|original message|"
    r"message d'origine)",
    re.IGNORECASE | re.MULTILINE,
)


class _HtmlText(HTMLParser):
    """Visible text of an HTML body, without quoted parts (blockquote, Gmail's gmail_quote)."""

    _SKIP = {"blockquote", "style", "script", "head", "title"}
    _BREAK = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "hr", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.stack: list[bool] = []
        self.stop = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = " ".join(value or "" for name, value in attrs if name in ("class", "id"))
        skip = tag in self._SKIP or "gmail_quote" in values or "moz-cite-prefix" in values
        if "divRplyFwdMsg" in values or "appendonsend" in values or "OLK_SRC_BODY" in values:
            self.stop = True
        if tag not in ("br", "hr", "img", "meta", "link", "input"):
            self.stack.append(skip)
            self.skipping += skip
        if tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "hr", "img", "meta", "link", "input"):
            return
        if self.stack:
            self.skipping -= self.stack.pop()
        if tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping and not self.stop:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible, unquoted text of an HTML body."""
    parser = _HtmlText()
    parser.feed(html[: MAX_TEXT * 5])
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def body_text(message: Message) -> str:
    """The message's own text: the first text/plain that is not an attachment, else its HTML."""
    html = ""
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/delivery-status"):
            break
        if kind == "text/plain":
            return _decoded(part)[:MAX_TEXT]
        if kind == "text/html" and not html:
            html = _decoded(part)
    return html_text(html)[:MAX_TEXT] if html else ""


def new_text(message: Message) -> str:
    """What the person wrote in this message, without what they quote or sign."""
    return reply_text(message)[0]


def reply_text(message: Message) -> tuple[str, bool]:
    """The new text, and whether it was written between the lines of the quote (inline)."""
    body = body_text(message).replace("\r\n", "\n")
    top = strip_quotes(body)
    if top:
        return top, False
    inline = inline_answers(body)
    return inline, bool(inline)


def inline_answers(body: str) -> str:
    """What a person wrote between the quoted lines (bottom-posting, inline answers), without
    the line that introduces the quote and without the signature."""
    lines: list[str] = []
    for line in body.splitlines():
        stripped = line.strip()
        if stripped in ("--", "-- ") and not line.startswith(">"):
            break
        if line.lstrip().startswith(">") or _ATTRIBUTION.match(line):
            continue
        lines.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quotes(body: str) -> str:
    """The text above the quote and the signature, in French and English quoting styles."""
    forwarded = _FORWARD.search(body)
    if forwarded is not None and not body[: forwarded.start()].strip():
        # A forward with nothing added: what counts is the message forwarded.
        body = body[forwarded.end() :]
        body = re.sub(
            r"^(?:\s*(?:de|from|envoy[ée]|sent|date|[àa]|to|objet|subject)\s*:.*\n)+",
            "",
            body.lstrip("- \n"),
            flags=re.IGNORECASE,
        )
    try:
        # The parser's regular expressions grow faster than the text: the new text of a reply
        # is at its top, so it reads no further than this.
        reply = _PARSER.parse_reply(body[:MAX_PARSED]) or ""
    except Exception:  # the parser's regexes on hostile input: fall back to the rules below
        reply = body
    lines: list[str] = []
    for line in reply.splitlines():
        if _CUT.match(line):
            break
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


# ---- intent ----------------------------------------------------------------------------------


# The person's own links, quoted back in a reply: kept without the token, so that opening one
# from the inbox never signs a coordinator in as the person.
PERSONAL_LINK = re.compile(r"(https?://\S+?/[ru]/)[A-Za-z0-9_-]{16,}")


def mask_links(text: str) -> str:
    """The text with the tokens of personal links replaced by an ellipsis."""
    return PERSONAL_LINK.sub(r"\1…", text)


def normalise(text: str) -> str:
    """Lower case, no accents, straight apostrophes, single spaces."""
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'").replace("‘", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[ \t]+", " ", text)


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


UNSUBSCRIBE = _any(
    r"^\W*stop\W*(?:please|svp|s'il vous plait|merci|thanks?)?\W*$",  # the first line is "STOP"
    r"\bdesabonn",
    r"\bdesinscri",
    r"\bunsubscrib",
    r"\bopt[- ]?out\b",
    r"\b(?:remove|take|delete|drop) (?:me|my (?:name|address|e-?mail(?: address)?))"
    r"(?: off| from)? (?:off |from )?(?:your|the|this)? ?(?:list|mailing)",
    r"\b(?:remove|take) me off\b",
    r"\b(?:retire[rz]?|enleve[rz]?|supprime[rz]?|rayez)[- ]moi\b",
    r"\b(?:retire[rz]?|enleve[rz]?|supprime[rz]?|rayez) (?:mon nom|mon adresse|mon courriel)",
    r"\bne plus (?:me |m')?(?:contacter|recevoir|ecrire|envoyer)",
    r"\bne (?:me |m')?(?:contactez|ecrivez|envoyez|sollicitez) plus\b",
    r"\bstop (?:sending|emailing|writing|contacting)\b",
    r"\b(?:don't|do not|never) (?:contact|e-?mail|write to) me(?: again| anymore| any more)?"
    r"\s*(?:[.!]|$)",
)
# "Don't unsubscribe me", "je ne veux pas me désabonner": the word, not the wish.
UNSUBSCRIBE_DENIED = _any(
    r"\b(?:don't|do not|not|never|no need to) (?:\w+ ){0,2}(?:unsubscrib|remove me|opt[- ]?out)",
    r"\b(?:ne (?:veux|voudrais|souhaite|desire) pas|pas) (?:me |vous )?(?:desabonn|desinscri)",
)
# A negation reaches the end of its clause, "unfortunately" the end of its sentence, but never
# past a "but": "Unfortunately I missed your first email, but count me in!"
_UNTIL_BUT = r"(?:(?!\b(?:but|mais|however|cependant|toutefois|pourtant)\b)[^{stop}\n])*"
_CLAUSE = _UNTIL_BUT.format(stop=".,;:!?")
_SENTENCE_REST = _UNTIL_BUT.format(stop=".!?")
# Said with a negative word, meant positively: read before the refusals can swallow them.
EAGER = _any(
    r"\bcan(?:'t|not) wait\b",
    r"\b(?:can't|cannot|couldn't) (?:say no|refuse|resist)\b",
    r"\bne (?:peux|pourrais) pas (?:refuser|dire non|resister)\b",
    r"\bje ne dis pas non\b",
    r"\bwouldn't miss it\b",
)
# Refusals, written so that they also swallow the positive word they negate.
NEGATIVE = _any(
    r"^\W*non\b(?! seulement)",
    r"^\W*no\b(?! problem| worries| doubt)",
    r"\bnon merci\b",
    r"\bno,? thanks?\b",
    r"\bno,? thank you\b",
    r"\b(?:of course|definitely|certainly|absolutely|surely) not\b",
    r"\b(?:bien sur|certainement|absolument|surement) (?:que )?(?:pas|non)\b",
    r"\bne (?:m'|me |nous )?interesse(?:nt)? (?:pas|plus|guere|vraiment pas)\b",
    r"\b(?:ne )?(?:suis|serai|sommes) (?:pas|plus) (?:du tout |vraiment |tres |trop )?"
    r"(?:interesse|disponible|partant)",
    r"\bpas (?:du tout |vraiment |tres |trop |tellement |franchement |tant )?interesse",
    r"\bn'(?:est|ai) pas (?:le temps|pour moi|possible)",
    r"\b(?:not|no longer|never) (?:at all |really |very |too |that |so |particularly )?"
    r"interest(?:ed|ing)\b",
    r"\b(?:i'm|i am) not (?:\w+ )?interested\b",
    r"\bpas (?:cette (?:annee|fois|session)|pour (?:le moment|l'instant|moi)|le temps)\b",
    r"\bnot (?:this (?:year|time)|for me|right now|at (?:the|this) (?:moment|time))\b",
    r"\bnot me\b",
    r"\b(?:don't|do not) count (?:me in|on me)\b",
    r"\bne (?:comptez|comptons) pas sur (?:moi|nous)\b",
    r"\b(?:too|very|quite) busy\b",
    r"\btrop (?:occupee?s?|chargee?s?|pris|prise)\b",
    r"\bje passe mon tour\b",
    r"\bje (?:dois |vais )?decline[rs]?\b",
    r"\b(?:i'll|i will|i must|i have to|i'm going to|i need to) (?:pass|decline)\b",
    r"\b(?:don't|do not) have (?:the )?time\b",
    r"\bcan(?:'t|not) commit\b",
    r"\bne (?:pourrai|peux|pourrais) pas\b" + _CLAUSE,
    r"\bje ne (?:pense|crois) pas\b" + _CLAUSE,
    r"\bmalheureusement\b" + _SENTENCE_REST,
    r"\bunfortunately\b" + _SENTENCE_REST,
    r"\bje ne (?:suis|serai) pas\b" + _CLAUSE,
    r"\b(?:won't|will not|can't|cannot|unable to)\b" + _CLAUSE,
)
POSITIVE = _any(
    r"^\W*oui\b",
    r"^\W*yes\b",
    r"^\W*(?:ok|d'accord|bien sur|of course|sure|absolutely|definitely|certainly)\b(?! not)",
    r"\binteress",
    r"\binterested\b",
    r"\bcount me in\b",
    r"\bsign me up\b",
    r"\b(?:i'm|i am) in\b",
    r"\bsounds? (?:great|good|wonderful|interesting|perfect)\b",
    r"\bavec (?:grand )?plaisir\b",
    r"\bpartante?s?\b",
    r"\bvolontiers\b",
    r"\bje veux bien\b",
    r"\bj'en suis\b",
    r"\b(?:inscri(?:s|vez|re)|comptez)[- ](?:moi|sur moi)\b",
    r"\b(?:happy|glad|keen|delighted|pleased) to (?:join|participate|take part|help|be)\b",
    r"\b(?:i'd|i would) (?:love|like) to (?:join|participate|take part|be)\b",
    r"\bwould love to\b",
    r"\b(?:j'aimerais|je souhaite|je voudrais|je veux) (?:bien |beaucoup )?(?:participer|"
    r"rejoindre|faire partie|m'impliquer|en faire partie|me joindre)",
    r"\bje (?:participe|me joins|m'inscris)\b",
    r"\bwith pleasure\b",
    r"\bgreat idea\b",
)
# "But", "mais": beside an unsubscribe request, the second half may take it back.
CONTRAST = _any(r"\b(?:but|however|although|mais|cependant|toutefois|pourtant|sauf que)\b")
MAYBE = _any(
    r"\bpeut[- ]etre\b",
    r"\bmaybe\b",
    r"\bperhaps\b",
    r"\bpossibly\b",
    r"\bprobabl(?:y|ement)\b",
    # "pas sûr(e)": "sûr" loses its accent, so "pas sur moi" must not be read as a doubt
    r"\bpas (?:encore |tout a fait |trop )?(?:sure?|certaine?)"
    r"(?=\W*(?:$|[.,;:!?)]|de\b|d'|que\b|qu'|si\b|encore\b))",
    r"\bnot (?:yet )?(?:sure|certain)\b",
    r"\bje (?:vais|dois) (?:voir|verifier|reflechir|y reflechir|consulter|regarder)",
    r"\bdois (?:d'abord )?(?:verifier|voir|consulter)",
    r"\blet me (?:check|think|see|get back)\b",
    r"\b(?:i'll|i will|i need to|i have to|i must) (?:check|think|see|confirm)\b",
    r"\bget back to you\b",
    r"\bje (?:vous |te )?(?:redis|reviens|confirme plus tard)",
    r"\ba voir\b",
    r"\bsous reserve\b",
    r"\btentative",
    r"\bif (?:i can|possible|my)\b",
    r"\bsi (?:je peux|possible|mon|ma|mes)\b",
    r"\bdepend",
)
ATTENDING = _any(
    r"\bje serai (?:la|present)",
    r"\bj'y serai\b",
    r"\bje viens\b(?! de| d')",
    r"\bje viendrai\b",
    r"\bje serai presente?\b",
    r"\bsee you (?:there|then|on)\b",
    r"\b(?:i'll|i will) (?:be there|attend|come|join)\b",
    r"\bi can (?:make it|come|attend)\b",
    r"\bcompte[zr]? sur (?:moi|ma presence)\b",
)
NOT_ATTENDING = _any(
    r"\bcan(?:'t|not) (?:make it|come|attend|join|be there)\b",
    r"\b(?:won't|will not) (?:be able|make it|be there|attend)\b",
    r"\bunable to (?:attend|come|make it|join)\b",
    r"\bne (?:pourrai|pourrais|peux) pas (?:venir|etre|assister|participer|y etre)",
    r"\bne serai pas (?:la|present)",
    r"\babsente?\b",
    r"\bje (?:dois |vais )?(?:m'excuser|decliner)\b",
    r"\b(?:send|sending) (?:my )?regrets\b",
)
QUESTION_START = _any(
    r"^(?:combien|quand|comment|pourquoi|quel|quelle|quels|quelles|ou|est-ce|qui|y a-t-il|"
    r"faut-il|how|what|when|where|why|which|who|is|are|do|does|can|could|will|would|should)\b"
)
_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")

AUTO_THRESHOLD = 0.85  # at or above: Amorce applies the action by itself


@dataclass(frozen=True)
class Reading:
    """What the new text says: the intent, how sure Amorce is, and an unsubscribe request."""

    intent: str
    confidence: float
    unsubscribe: bool = False


def _mask(pattern: re.Pattern[str], text: str) -> tuple[bool, str]:
    """Whether ``pattern`` occurs, and the text with its matches blanked out."""
    masked = pattern.sub(lambda match: " " * len(match.group(0)), text)
    return masked != text, masked


def _has_question(text: str) -> bool:
    for sentence in _SENTENCE.split(text):
        sentence = sentence.strip()
        if sentence.endswith("?") and len(_WORD.findall(sentence)) >= 2:
            return True
    return False


def _length_factor(words: int) -> float:
    if words <= 40:
        return 1.0
    if words <= 120:
        return 0.8
    return 0.55


def read_intent(text: str, campaign_kind: str = "recruitment") -> Reading:
    """The intent of a reply's new text, for the kind of campaign it answers."""
    plain = normalise(text[:4000])
    words = len(_WORD.findall(plain))
    if words == 0:
        return Reading(Intent.UNKNOWN, 0.0)
    factor = _length_factor(words)
    invitation = campaign_kind in ("invitation", "activity")
    positive = Intent.ATTENDING if invitation else Intent.INTERESTED
    negative = Intent.NOT_ATTENDING if invitation else Intent.NOT_INTERESTED
    found: set[str] = set()
    eager, rest = _mask(EAGER, plain)
    if eager:
        found.add(positive)
    unsubscribe = _unsubscribe(rest)
    if unsubscribe is not None:
        return unsubscribe if not found else replace(unsubscribe, confidence=0.5)
    question = _has_question(rest)
    if invitation:
        hit, rest = _mask(NOT_ATTENDING, rest)
        if hit:
            found.add(Intent.NOT_ATTENDING)
        hit, rest = _mask(ATTENDING, rest)
        if hit:
            found.add(Intent.ATTENDING)
    hit, rest = _mask(MAYBE, rest)
    if hit:
        found.add(Intent.MAYBE)
    hit, rest = _mask(NEGATIVE, rest)
    if hit:
        found.add(negative)
    hit, rest = _mask(POSITIVE, rest)
    if hit:
        found.add(positive)
    if question:
        if not found:
            return Reading(Intent.QUESTION, round(0.9 * factor, 2))
        # A decision with a question beside it: the person expects an answer first.
        return Reading(Intent.QUESTION, round(0.6 * factor, 2))
    if len(found) == 1:
        return Reading(found.pop(), round(0.92 * factor, 2))
    if found == {Intent.MAYBE, positive}:
        return Reading(Intent.MAYBE, round(0.6 * factor, 2))
    if Intent.MAYBE in found and len(found) == 2:
        return Reading(Intent.MAYBE, round(0.5 * factor, 2))
    return Reading(Intent.UNKNOWN, 0.3 if found else 0.2)


def _unsubscribe(plain: str) -> Reading | None:
    """An unsubscribe request, sure when it stands alone; None when there is none."""
    first = plain.strip().splitlines()[0] if plain.strip() else ""
    if not (UNSUBSCRIBE.search(plain) or UNSUBSCRIBE.search(first)):
        return None
    if UNSUBSCRIBE_DENIED.search(plain):
        return Reading(Intent.UNKNOWN, 0.3)
    factor = _length_factor(len(_WORD.findall(plain)))
    # "Remove me from the list, but my colleague is interested": a coordinator decides.
    if POSITIVE.search(NEGATIVE.sub(" ", plain)) or CONTRAST.search(plain):
        factor = min(factor, 0.6)
    return Reading(Intent.NOT_INTERESTED, round(0.95 * factor, 2), unsubscribe=True)
