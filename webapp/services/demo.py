"""Demo data for ``amorce up --demo``: a coordinator, a community and a dozen prospects."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import Community, CommunityCoordinator, Role, User

from . import communities, imports, users

DEMO_EMAIL = "coordination@demo.amorce.test"
DEMO_SLUG = "pedagogie-numerique"
PROSPECTS = """email,first_name,last_name,language,organization,timezone
amelie.gagnon@demo.amorce.test,Amélie,Gagnon,fr,Université Laval,America/Toronto
benoit.roy@demo.amorce.test,Benoît,Roy,fr,Cégep de Sherbrooke,America/Toronto
chloe.martin@demo.amorce.test,Chloé,Martin,fr,Université de Montréal,America/Toronto
david.chen@demo.amorce.test,David,Chen,en,McGill University,America/Toronto
emma.wilson@demo.amorce.test,Emma,Wilson,en,Concordia University,America/Toronto
francois.lavoie@demo.amorce.test,François,Lavoie,fr,UQAM,America/Toronto
gabrielle.cote@demo.amorce.test,Gabrielle,Côté,fr,Université de Sherbrooke,America/Toronto
hugo.bernard@demo.amorce.test,Hugo,Bernard,fr,Université de Lille,Europe/Paris
isabelle.morin@demo.amorce.test,Isabelle,Morin,fr,TÉLUQ,America/Toronto
james.smith@demo.amorce.test,James,Smith,en,Bishop's University,America/Toronto
karine.fortin@demo.amorce.test,Karine,Fortin,fr,Ministère de l'Éducation,America/Toronto
lucas.dubois@demo.amorce.test,Lucas,Dubois,fr,Université catholique de Louvain,Europe/Brussels
"""


@dataclass(frozen=True)
class DemoLogin:
    """The coordinator login printed by ``amorce up --demo`` (a new password each run)."""

    email: str
    password: str
    slug: str


def seed_demo(session: Session) -> DemoLogin:
    """Create the demo data once; each run sets a fresh password for the demo login."""
    password = secrets.token_urlsafe(12)
    user_id = session.scalar(select(User.id).where(User.email == DEMO_EMAIL))
    if user_id is None:
        user_id = users.create_user(
            session, DEMO_EMAIL, password, role=Role.COORDINATOR, name="Coordination démo"
        )
    else:
        users.set_password(session, user_id, password)
    community_id = session.scalar(select(Community.id).where(Community.slug == DEMO_SLUG))
    if community_id is None:
        community_id = communities.create_community(
            session,
            communities.CommunityData(
                name="Communauté de pratique en pédagogie numérique",
                slug=DEMO_SLUG,
                language="fr",
                domain="Pédagogie numérique dans l'enseignement supérieur",
                description=(
                    "Des conseillères et conseillers pédagogiques, des enseignantes et "
                    "enseignants qui partagent leurs pratiques du numérique en classe."
                ),
                benefits=[
                    "Partager vos pratiques et profiter de celles de vos collègues",
                    "Résoudre ensemble des problèmes concrets d'enseignement",
                    "Rester à jour sur les outils et la recherche, sans y passer vos soirées",
                    "Faire reconnaître votre expertise dans votre établissement",
                ],
                commitment=(
                    "Environ deux heures par mois : une rencontre en ligne toutes les six "
                    "semaines, et des échanges entre-temps au rythme de chacun."
                ),
                sender_name="Coordination de la CoP pédagogie numérique",
                organization="Université de démonstration",
                postal_address="2325, rue de l'Université, Québec (Québec) G1V 0A6, Canada",
                contact_email=DEMO_EMAIL,
            ),
            user_id=user_id,
        )
        imports.import_people(
            session,
            community_id,
            PROSPECTS,
            source="network",
            consent="implied",
            consent_note="Réseau informel de la coordination (collaborations depuis 2023)",
            filename="demo.csv",
            actor="demo",
        )
    elif not session.scalar(
        select(CommunityCoordinator.id).where(
            CommunityCoordinator.community_id == community_id,
            CommunityCoordinator.user_id == user_id,
        )
    ):
        session.add(CommunityCoordinator(community_id=community_id, user_id=user_id))
    return DemoLogin(DEMO_EMAIL, password, DEMO_SLUG)
