"""Charter answers cut into statements, and near-duplicates merged across members."""

from __future__ import annotations

import random
import time

import pytest

from webapp.services.statement_text import (
    DEFAULT_THRESHOLD,
    Cluster,
    Sentence,
    cluster,
    similarity,
    split_answer,
    statements_from_answers,
)


def test_bullets_become_statements() -> None:
    answer = (
        "- Partager nos pratiques\n"
        "* rompre l'isolement\n"
        "• Se former ensemble\n"
        "1. Porter une voix commune\n"
        "2) Accueillir les nouveaux\n"
        "a) Décider ensemble\n"
    )
    assert split_answer(answer) == [
        "Partager nos pratiques",
        "Rompre l'isolement",
        "Se former ensemble",
        "Porter une voix commune",
        "Accueillir les nouveaux",
        "Décider ensemble",
    ]


def test_sentences_split_but_not_inside_abbreviations_or_numbers() -> None:
    answer = (
        "Nous voulons partager des outils, p. ex. des modèles de documents. "
        "M. Dupont anime les réunions ! Le budget est de 3.5 k€ par an; "
        "on décide par consensus (cf. la charte)… Pourquoi pas ?"
    )
    assert split_answer(answer) == [
        "Nous voulons partager des outils, p. ex. des modèles de documents",
        "M. Dupont anime les réunions !",
        "Le budget est de 3.5 k€ par an",
        "On décide par consensus (cf. la charte)…",
        "Pourquoi pas ?",
    ]


def test_etc_ends_a_sentence_only_before_a_capital() -> None:
    answer = "Partager des outils, des méthodes, etc. et des contacts. Se voir, etc. Ensuite voter."
    assert split_answer(answer) == [
        "Partager des outils, des méthodes, etc. et des contacts",
        "Se voir, etc.",
        "Ensuite voter",
    ]


def test_statements_are_cleaned_lightly() -> None:
    answer = '  « partager nos pratiques. »  \n\n   "l’entraide entre pairs" ;  '
    assert split_answer(answer) == ["Partager nos pratiques", "L’entraide entre pairs"]


def test_fragments_of_one_word_are_dropped() -> None:
    assert split_answer("Oui. Rien. 42. Partager nos pratiques. -\n* Ok") == [
        "Partager nos pratiques"
    ]


@pytest.mark.parametrize("answer", ["", "   ", "\n\n \t\n", "- \n* \n1. "])
def test_empty_answers_give_nothing(answer: str) -> None:
    assert split_answer(answer) == []
    assert statements_from_answers([(1, answer), (2, answer)]) == []


def test_long_statements_are_cut_at_commas_or_between_words() -> None:
    idea = "nous voulons partager des pratiques professionnelles variées"
    pieces = split_answer(", ".join([idea] * 6), max_length=100)
    assert pieces == [idea[0].upper() + idea[1:]] * 6

    words = ["coopération"] * 60
    pieces = split_answer(" ".join(words), max_length=50)
    assert all(len(piece) <= 50 for piece in pieces)
    assert " ".join(pieces).casefold().split() == words


def test_english_answers() -> None:
    answer = "Share our practices, e.g. templates. We meet monthly!\n- an open community"
    assert split_answer(answer) == [
        "Share our practices, e.g. templates",
        "We meet monthly!",
        "An open community",
    ]
    assert similarity("Share our practices", "Sharing good practices") >= DEFAULT_THRESHOLD
    assert similarity("An open community", "A community open to everyone") >= DEFAULT_THRESHOLD
    assert (
        similarity("Decisions are made by consensus", "Decisions are made by majority vote")
        < DEFAULT_THRESHOLD
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Partager nos pratiques", "partager les bonnes pratiques"),
        ("Partager nos pratiques", "Le partage de pratiques entre membres"),
        (
            "Une communauté ouverte à tous les professionnels",
            "Communauté ouverte à tous les professionnels.",
        ),
        ("Rompre l'isolement", "Rompre l’isolement des professionnels"),
        ("L'entraide entre pairs", "S'entraider entre pairs"),
        ("Pas de hiérarchie", "Aucune hiérarchie"),
    ],
)
def test_near_duplicates_are_similar(first: str, second: str) -> None:
    assert similarity(first, second) >= DEFAULT_THRESHOLD
    assert similarity(first, second) == similarity(second, first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Partager nos pratiques", "Partager nos outils numériques"),
        (
            "Les décisions se prennent par consensus",
            "Les décisions se prennent par vote à la majorité",
        ),
        ("Pas de hiérarchie", "Une hiérarchie claire"),
        ("Une communauté sans hiérarchie", "Une communauté avec une hiérarchie"),
    ],
)
def test_different_ideas_are_not(first: str, second: str) -> None:
    assert similarity(first, second) < DEFAULT_THRESHOLD


def test_similarity_bounds() -> None:
    assert similarity("Partager nos pratiques", "PARTAGER NOS PRATIQUES !") == 1.0
    assert similarity("Partager nos pratiques", "Voter chaque année") < 0.1
    assert 0.0 <= similarity("Se réunir une fois par mois", "Des rencontres mensuelles") <= 1.0


def test_three_wordings_of_one_idea_merge_and_others_stay_apart() -> None:
    sentences = [
        Sentence(1, "Partager nos pratiques"),
        Sentence(2, "Partager nos outils numériques"),
        Sentence(3, "partager les bonnes pratiques"),
        Sentence(4, "Le partage de pratiques entre membres"),
        Sentence(5, "Les décisions se prennent par consensus"),
        Sentence(6, "Les décisions se prennent par vote à la majorité"),
        Sentence(7, "Pas de hiérarchie"),
        Sentence(8, "Une hiérarchie claire"),
    ]
    clusters = cluster(sentences)
    assert [c.supporters for c in clusters] == [(1, 3, 4), (2,), (5,), (6,), (7,), (8,)]
    assert clusters[0].wordings == (sentences[0], sentences[2], sentences[3])


def test_merging_does_not_depend_on_the_order() -> None:
    sentences = [
        Sentence(1, "Partager nos pratiques"),
        Sentence(2, "Partager nos pratiques et nos outils"),
        Sentence(3, "Partager nos outils numériques"),
        Sentence(4, "partager les bonnes pratiques"),
        Sentence(5, "Le partage de pratiques entre membres"),
        Sentence(6, "Rompre l'isolement"),
    ]

    def groups(found: list[Cluster]) -> set[tuple[int, ...]]:
        return {c.supporters for c in found}

    expected = groups(cluster(sentences))
    shuffler = random.Random(7)
    for _ in range(20):
        shuffled = list(sentences)
        shuffler.shuffle(shuffled)
        assert groups(cluster(shuffled)) == expected
    assert (1, 2, 4, 5) in expected or (1, 4, 5) in expected
    assert not any({1, 3} <= set(group) for group in expected)  # no chaining through 2


def test_a_person_supports_a_statement_once() -> None:
    clusters = cluster(
        [
            Sentence(2, "Partager nos pratiques"),
            Sentence(2, "Partager les bonnes pratiques"),
            Sentence(1, "partager nos pratiques"),
        ]
    )
    assert len(clusters) == 1
    assert clusters[0].supporters == (1, 2)
    assert len(clusters[0].wordings) == 3


def test_the_wording_most_people_used_wins() -> None:
    found = cluster(
        [
            Sentence(1, "Partager les bonnes pratiques"),
            Sentence(2, "Partager nos pratiques"),
            Sentence(3, "partager nos pratiques !"),
            Sentence(3, "Partager nos pratiques"),
        ]
    )
    assert [c.wording for c in found] == ["Partager nos pratiques"]


def test_wording_ties_go_to_the_shortest_then_the_earliest() -> None:
    shortest = cluster(
        [
            Sentence(1, "Une communauté ouverte à tous les professionnels"),
            Sentence(2, "Communauté ouverte à tous les professionnels"),
        ]
    )
    assert shortest[0].wording == "Communauté ouverte à tous les professionnels"
    earliest = cluster([Sentence(1, "Rompre l'isolement"), Sentence(2, "rompre l’isolement")])
    assert earliest[0].wording == "Rompre l'isolement"


def test_clusters_are_ordered_by_support_then_first_appearance() -> None:
    found = statements_from_answers(
        [
            (1, "Voter chaque année. Rompre l'isolement."),
            (2, "Se former ensemble. Rompre l'isolement."),
            (3, "Rompre l'isolement. Se former ensemble."),
            (4, "Un lieu convivial"),
        ]
    )
    assert [(c.wording, len(c.supporters)) for c in found] == [
        ("Rompre l'isolement", 3),
        ("Se former ensemble", 2),
        ("Voter chaque année", 1),
        ("Un lieu convivial", 1),
    ]


def test_nothing_to_cluster() -> None:
    assert cluster([]) == []


RAISON_D_ETRE = [  # "Quelle est la raison d'être de la communauté ?"
    (1, "- Partager nos pratiques\n- Rompre l'isolement\n- Monter en compétences ensemble"),
    (
        2,
        "Partager les bonnes pratiques. Sortir de l'isolement professionnel ! "
        "Et aussi porter une voix commune auprès des institutions.",
    ),
    (3, "Le partage de pratiques entre membres ; l'entraide entre pairs."),
    (
        4,
        "1. Rompre l'isolement des professionnels\n"
        "2. Partager nos pratiques\n"
        "3. Se former ensemble",
    ),
    (5, "S'entraider entre pairs. Partager nos outils numériques."),
    (6, "Porter une voix commune auprès des institutions, p. ex. la région. Rompre l'isolement."),
    (7, "monter en compétence, tout simplement…\nEt partager nos pratiques !"),
    (8, "Rompre l’isolement des professionnels du secteur."),
    (9, "Partager nos pratiques, nos réussites et nos échecs."),
    (10, "Une communauté ouverte à tous les professionnels. Partager nos pratiques."),
    (
        11,
        "Communauté ouverte à tous les professionnels.\n"
        "Porter une voix commune auprès des institutions.",
    ),
    (12, "   \n "),
]


def test_twelve_members_on_the_purpose_of_the_community() -> None:
    found = statements_from_answers(RAISON_D_ETRE)
    summary = [(c.wording, c.supporters) for c in found]
    assert summary == [
        ("Partager nos pratiques", (1, 2, 3, 4, 7, 10)),
        ("Rompre l'isolement", (1, 4, 6, 8)),
        ("Porter une voix commune auprès des institutions", (2, 6, 11)),
        ("Monter en compétences ensemble", (1, 7)),
        ("L'entraide entre pairs", (3, 5)),
        ("Communauté ouverte à tous les professionnels", (10, 11)),
        ("Sortir de l'isolement professionnel !", (2,)),
        ("Se former ensemble", (4,)),
        ("Partager nos outils numériques", (5,)),
        ("Partager nos pratiques, nos réussites et nos échecs", (9,)),
    ]
    assert [s.text for s in found[0].wordings] == [
        "Partager nos pratiques",
        "Partager les bonnes pratiques",
        "Le partage de pratiques entre membres",
        "Partager nos pratiques",
        "Et partager nos pratiques !",
        "Partager nos pratiques",
    ]


def test_the_threshold_trades_merging_for_precision() -> None:
    looser = statements_from_answers(RAISON_D_ETRE, threshold=0.55)
    assert [c.supporters for c in looser[:2]] == [(1, 2, 3, 4, 7, 9, 10), (1, 2, 4, 6, 8)]
    stricter = statements_from_answers(RAISON_D_ETRE, threshold=0.7)
    assert ("Monter en compétences ensemble", (1,)) in [(c.wording, c.supporters) for c in stricter]
    assert len(looser) < len(statements_from_answers(RAISON_D_ETRE)) < len(stricter)


def test_two_hundred_people_cluster_quickly() -> None:
    ideas = [
        "partager {d} pratiques",
        "rompre l'isolement {d} professionnels",
        "se former ensemble",
        "porter une voix commune auprès {d} institutions",
        "l'entraide entre pairs",
        "une communauté ouverte à tous",
        "décider par consensus",
        "voter à la majorité",
        "se réunir chaque mois",
        "accueillir {d} nouveaux membres",
        "partager {d} outils numériques",
        "documenter {d} méthodes de travail",
        "organiser {d} visites de terrain",
        "publier une lettre d'information",
        "créer un annuaire {d} membres",
    ]
    openers = ["", "", "pour moi, ", "il faut ", "une communauté pour ", "nous voulons "]
    extras = ["", " en ligne", " régulièrement", " dans la région", " sans hiérarchie", " et {x}"]
    nouns = ["projets", "réussites", "échecs", "lectures", "questions", "contacts"]
    determiners = ["nos", "les", "des", "toutes les"]
    rng = random.Random(2024)
    sentences = []
    for person in range(200):
        for _ in range(6):
            text = rng.choice(openers) + rng.choice(ideas) + rng.choice(extras)
            text = text.format(d=rng.choice(determiners), x=rng.choice(nouns))
            sentences.append(Sentence(person, text))
    started = time.perf_counter()
    found = cluster(sentences)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed
    assert sum(len(c.wordings) for c in found) == 1200
    assert len({s.text for s in sentences}) > 600
    assert len(found) < 60
    assert len(found[0].supporters) > 50
