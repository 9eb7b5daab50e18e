"""The words of the bench's inbound mail: people's replies and out-of-office notices, FR and EN."""

from __future__ import annotations

REPLIES: dict[str, dict[str, list[str]]] = {
    "interested": {
        "fr": [
            "Oui, ça m'intéresse !",
            "Bonjour,\n\nAvec plaisir, comptez sur moi.\n\nBonne journée,",
            "Je suis partante, merci de l'invitation !",
            "Volontiers ! Inscrivez-moi.",
            "Oui merci, j'aimerais beaucoup participer.",
        ],
        "en": [
            "Yes, I'm interested!",
            "Hi,\n\nCount me in, sounds great.\n\nBest,",
            "Sure, happy to join.",
            "I'd love to take part, thank you for thinking of me.",
            "Yes please, sign me up.",
        ],
    },
    "not_interested": {
        "fr": [
            "Non merci, pas cette année.",
            "Bonjour,\n\nMalheureusement je n'ai pas le temps ce trimestre.\n\nCordialement,",
            "Je passe mon tour pour cette fois, merci.",
            "Pas intéressée, merci.",
        ],
        "en": [
            "No thanks, not this year.",
            "Hello,\n\nUnfortunately I don't have the time this term.\n\nRegards,",
            "I'll pass this time, thanks.",
            "Not interested, thank you.",
        ],
    },
    "maybe": {
        "fr": [
            "Peut-être, je dois vérifier mon horaire.",
            "Je vais y réfléchir et je vous reviens.",
            "Pas encore certaine, ça dépend de ma charge d'enseignement.",
        ],
        "en": [
            "Maybe, let me check my schedule.",
            "Perhaps. I need to think about it and I'll get back to you.",
            "Not sure yet, it depends on my teaching load.",
        ],
    },
    "question": {
        "fr": [
            "Combien d'heures par mois faut-il prévoir ?",
            "Bonjour,\n\nEst-ce que les rencontres se font en ligne ?\n\nMerci,",
            "Quelles sont les dates des premières rencontres ?",
        ],
        "en": [
            "How many hours a month would it take?",
            "Hi,\n\nAre the meetings held online?\n\nThanks,",
            "When is the first meeting?",
        ],
    },
}
OUT_OF_OFFICE = {
    "fr": (
        "Réponse automatique : {subject}",
        "Bonjour,\n\nJe suis absente du bureau jusqu'au 30 novembre, sans accès à mes courriels. "
        "Pour toute urgence, écrivez à secretariat@example.org.\n\nMerci,\n{name}",
    ),
    "en": (
        "Automatic reply: {subject}",
        "Hello,\n\nI am out of the office until November 30 with no access to email. For "
        "anything urgent, please contact office@example.org.\n\nThank you,\n{name}",
    ),
}
