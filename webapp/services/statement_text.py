"""Short statements from free-text charter answers, and near-duplicates merged across members.

Pure text work, stdlib only. :func:`split_answer` cuts one answer into statements (line breaks,
bullets, sentence ends, semicolons; never inside "p. ex.", "etc.", "M.", "3.5" or "e.g.").
:func:`similarity` compares two statements after normalisation: casefold, accents folded,
elisions (l', d', qu'…) and French/English stop words dropped, a light stemming; it is

    0.7 × Dice(stems) + 0.3 × Dice(character trigrams of the remaining words)

halved when one statement is negative ("pas", "sans", "aucun", "not"…) and the other is not.
:func:`cluster` first gathers statements with the same words that count, then links pairs that
share a stem and reach the threshold, the most similar first; two groups merge only when their
*average* similarity also reaches it, so a statement bridging two ideas does not chain them. The
result depends on the input order only through exact ties.

``DEFAULT_THRESHOLD`` is 0.62: "Partager nos pratiques" merges with "partager les bonnes
pratiques" (0.80) and "Le partage de pratiques entre membres" (0.77), and those two (0.65) join
it; "Partager nos outils numériques" (0.44), "… par consensus" vs "… par vote à la majorité"
(0.59) and "Pas de hiérarchie" vs "Une hiérarchie claire" (0.34) stay apart. Synonyms
("rencontres mensuelles" / "une fois par mois", 0.04) are out of scope.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.62
TOKEN_WEIGHT = 0.7
NEGATION_FACTOR = 0.5

STOP_WORDS = frozenset(
    """
    le la les l un une des de du d et ou a au aux en dans pour par sur avec que qui qu quoi est
    sont etre ete nous notre nos vous votre vos ce cet cette ces c se s sa son ses il ils elle
    elles on y leur leurs mon ma mes ton ta tes je j me m te t lui eux tous tout toute toutes
    entre comme mais donc car ainsi aussi tres faut doit doivent devons peut peuvent pouvons
    voulons veut avoir ont avons etc
    the a an of and or to in for on with that is are be been we our ours us it its this these
    those as at by from all their they them should must can could will would want shall
    """.split()
)
NEGATIONS = frozenset("pas ne non sans aucun aucune jamais ni not no without never nor".split())
ABBREVIATIONS = frozenset(
    "etc ex cf mme mmes mlle mr mrs ms dr st vs env art no nº fig approx resp".split()
)

_BULLET = re.compile(r"^\s*(?:[-*•‣◦–—·+>]+|\(?\d{1,2}[.)]|\(?[a-zA-Z]\))\s+")
_SENTENCE_END = re.compile(r"(?:\.{3}|…|[.!?]+)[\"'»”’)\]]*(?=\s|$)|;")
_WORD_BEFORE = re.compile(r"(\S+)$")
_QUOTES = "\"'«»“”‘’„`"
_APOSTROPHES = re.compile(r"[’‘`´ʼ]")
_ENGLISH_NOT = re.compile(r"n't\b")
_ELISION = re.compile(r"\b(?:l|d|j|n|s|c|m|t|qu|jusqu|lorsqu|puisqu|presqu)'")
_NON_WORD = re.compile(r"[^\w]+|_")
_LETTER_WORD = re.compile(r"[^\W\d_]+")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "e.g", "i.e", "n.b"


@dataclass(frozen=True)
class Sentence:
    """One short statement a person wrote, as written but lightly cleaned."""

    person_id: int
    text: str


@dataclass(frozen=True)
class Cluster:
    """Statements merged as one idea: the wording most used, who supports it, every sentence."""

    wording: str
    supporters: tuple[int, ...]
    wordings: tuple[Sentence, ...]


def split_answer(text: str, *, max_length: int = 280) -> list[str]:
    """Short statements from one free-text answer."""
    statements: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line, count=1)
        for fragment in _sentences(line):
            for piece in _cut(_clean(fragment), max_length):
                piece = _clean(piece)
                if len(_LETTER_WORD.findall(piece)) >= 2:
                    statements.append(piece)
    return statements


def _sentences(line: str) -> Iterable[str]:
    """The line cut at sentence ends and semicolons, but not after an abbreviation."""
    start = 0
    for match in _SENTENCE_END.finditer(line):
        if match.group() == "." and _is_abbreviation(line, match.start(), match.end()):
            continue
        yield line[start : match.end()]
        start = match.end()
    yield line[start:]


def _is_abbreviation(line: str, dot: int, end: int) -> bool:
    """Whether the single period at ``dot`` closes an abbreviation rather than a sentence."""
    found = _WORD_BEFORE.search(line[:dot])
    if found is None:
        return False
    word = found.group(1).lstrip("(" + _QUOTES).casefold()
    if word == "etc":  # "etc." ends a sentence when a capital follows
        following = line[end:].lstrip()
        return not (following[:1].isupper())
    if word in ABBREVIATIONS or _DOTTED.fullmatch(word):  # "cf.", "e.g.", "i.e."
        return True
    return len(word) == 1 and word.isalpha()  # initials, "M.", "p."


def _clean(fragment: str) -> str:
    """Surrounding spaces and quotes out, trailing separators and one period out, capitalised."""
    text = " ".join(fragment.split()).strip(" " + _QUOTES)
    text = text.rstrip(",;:– ").strip(" " + _QUOTES)
    if text.endswith(".") and not text.endswith(".."):
        last = text[:-1].rsplit(maxsplit=1)[-1].casefold() if text[:-1].strip() else ""
        if last not in ABBREVIATIONS and not _DOTTED.fullmatch(last):
            text = text[:-1].rstrip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text


def _cut(text: str, max_length: int) -> list[str]:
    """A statement longer than ``max_length`` in pieces, cut after a comma or between words."""
    pieces: list[str] = []
    while len(text) > max_length:
        head = text[: max_length + 1]
        at = head.rfind(", ")
        if at >= max_length // 3:
            at += 1
        else:
            at = head.rfind(" ")
            if at <= 0:  # one word longer than the limit: keep it whole
                at = text.find(" ", max_length)
                if at < 0:
                    break
        pieces.append(text[:at].strip())
        text = text[at:].strip()
    pieces.append(text)
    return pieces


@dataclass(frozen=True)
class _Analysis:
    """What similarity needs of one statement, computed once."""

    form: str  # every word, normalised: what "the same wording" means
    key: str  # the words that count: stop words out
    negative: bool
    stems: frozenset[str]
    trigrams: frozenset[str]


def _words(text: str) -> list[str]:
    """Casefolded, accent-folded words, elisions and punctuation out."""
    text = _APOSTROPHES.sub("'", text.casefold())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = _ELISION.sub(" ", _ENGLISH_NOT.sub(" not", text))
    return [word for word in _NON_WORD.split(text) if word]


def _stem(word: str) -> str:
    """A light, deterministic stem: plurals, -ment, -tion, -ing and -er/-é/-ée endings out."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("s", "x")) and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ation", "tion", "ement", "ment", "ing"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    stripped = True
    while stripped:
        stripped = False
        for suffix in ("ee", "er", "ed", "e"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                stripped = True
                break
    return word


def _analyse(text: str) -> _Analysis:
    """Normalised form, polarity, stems and trigrams of one statement."""
    words = _words(text)
    kept = [word for word in words if word not in STOP_WORDS]
    content = [word for word in kept if word not in NEGATIONS]
    joined = " ".join(content)
    padded = f" {joined} " if joined else ""
    return _Analysis(
        form=" ".join(words),
        key=" ".join(kept) or " ".join(words),
        negative=len(content) < len(kept),
        stems=frozenset(_stem(word) for word in content),
        trigrams=frozenset(padded[i : i + 3] for i in range(len(padded) - 2)),
    )


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two sets, 0 when both are empty."""
    total = len(a) + len(b)
    return 2 * len(a & b) / total if total else 0.0


def _score(a: _Analysis, b: _Analysis) -> float:
    """Similarity of two analysed statements."""
    if a.key == b.key:
        return 1.0
    score = TOKEN_WEIGHT * _dice(a.stems, b.stems) + (1 - TOKEN_WEIGHT) * _dice(
        a.trigrams, b.trigrams
    )
    return score * NEGATION_FACTOR if a.negative != b.negative else score


def similarity(a: str, b: str) -> float:
    """0..1, how close two statements are in meaning-ish (normalised words)."""
    return round(_score(_analyse(a), _analyse(b)), 6)


def cluster(
    sentences: Sequence[Sentence], *, threshold: float = DEFAULT_THRESHOLD
) -> list[Cluster]:
    """Near-duplicates merged; clusters ordered by support (most supporters first), then by first appearance."""  # noqa: E501
    units: dict[str, list[int]] = {}  # the same words that count: one unit
    analyses: list[_Analysis] = []
    for index, sentence in enumerate(sentences):
        analysis = _analyse(sentence.text)
        analyses.append(analysis)
        units.setdefault(analysis.key, []).append(index)
    members = list(units.values())
    unit_analyses = [analyses[indexes[0]] for indexes in members]

    groups = _merge(unit_analyses, threshold)
    found: list[tuple[int, Cluster]] = []
    for group in groups:
        indexes = sorted(index for unit in group for index in members[unit])
        merged = tuple(sentences[index] for index in indexes)
        wording = _wording(merged, [analyses[index] for index in indexes])
        supporters = tuple(sorted({sentence.person_id for sentence in merged}))
        found.append((indexes[0], Cluster(wording, supporters, merged)))
    found.sort(key=lambda item: (-len(item[1].supporters), item[0]))
    return [item for _, item in found]


def _merge(analyses: list[_Analysis], threshold: float) -> list[list[int]]:
    """Groups of analysed units: most similar pairs first, merged while average similarity holds."""
    by_stem: dict[str, list[int]] = defaultdict(list)
    for unit, analysis in enumerate(analyses):
        for stem in analysis.stems:
            by_stem[stem].append(unit)  # in increasing order
    scores: dict[tuple[int, int], float] = {}
    edges: list[tuple[float, int, int]] = []
    ceiling = 1 - TOKEN_WEIGHT  # the most trigrams can add
    sizes = [len(analysis.stems) for analysis in analyses]
    negatives = [analysis.negative for analysis in analyses]
    # the fewest shared stems, per stem of both, with which the threshold can still be reached
    needed = {
        factor: (threshold / factor - ceiling) / (2 * TOKEN_WEIGHT) - 1e-9
        for factor in (1.0, NEGATION_FACTOR)
    }
    for unit, analysis in enumerate(analyses):
        shared: Counter[int] = Counter()
        for stem in analysis.stems:
            later = by_stem[stem]
            shared.update(later[bisect_right(later, unit) :])
        size, negative = sizes[unit], negatives[unit]
        for other, count in shared.items():
            factor = 1.0 if negatives[other] == negative else NEGATION_FACTOR
            total = size + sizes[other]
            if count < needed[factor] * total:
                continue  # cannot reach the threshold: scored later only if needed
            tokens = TOKEN_WEIGHT * (2 * count / total)
            value = (tokens + ceiling * _dice(analysis.trigrams, analyses[other].trigrams)) * factor
            scores[unit, other] = value
            if value >= threshold:
                edges.append((-value, unit, other))
    edges.sort()

    group_of = list(range(len(analyses)))
    groups: dict[int, list[int]] = {unit: [unit] for unit in range(len(analyses))}
    sums: dict[tuple[int, int], tuple[int, int, float]] = {}  # prefixes of two groups summed

    def pair(x: int, y: int) -> float:
        key = (x, y) if x < y else (y, x)
        if key not in scores:
            scores[key] = _score(analyses[x], analyses[y])
        return scores[key]

    def cross(first: int, second: int) -> float:
        """Sum of similarities between two groups, extending what was summed before."""
        left, right = groups[first], groups[second]
        done_left, done_right, total = sums.get((first, second), (0, 0, 0.0))
        total += sum(pair(x, y) for x in left[done_left:] for y in right[:done_right])
        total += sum(pair(x, y) for x in left for y in right[done_right:])
        sums[first, second] = (len(left), len(right), total)
        return total

    for _, unit, other in edges:
        first, second = sorted((group_of[unit], group_of[other]))
        if first == second:
            continue
        size = len(groups[first]) * len(groups[second])
        if cross(first, second) / size < threshold:
            continue
        for moved in groups[second]:
            group_of[moved] = first
        groups[first].extend(groups.pop(second))
    return [sorted(group) for _, group in sorted(groups.items())]


def _wording(merged: Sequence[Sentence], analyses: Sequence[_Analysis]) -> str:
    """The form written by the most people; ties to the shortest, then the earliest."""
    people: dict[str, set[int]] = defaultdict(set)
    first: dict[str, str] = {}
    for sentence, analysis in zip(merged, analyses, strict=True):
        people[analysis.form].add(sentence.person_id)
        first.setdefault(analysis.form, sentence.text)
    order = list(first)
    best = min(order, key=lambda form: (-len(people[form]), len(first[form]), order.index(form)))
    return first[best]


def statements_from_answers(
    answers: Sequence[tuple[int, str]], *, threshold: float = DEFAULT_THRESHOLD
) -> list[Cluster]:
    """Each (person_id, answer) split into statements, then near-duplicates merged."""
    sentences = [
        Sentence(person_id, text) for person_id, answer in answers for text in split_answer(answer)
    ]
    return cluster(sentences, threshold=threshold)
