"""The domain's tables, one module per noun."""

from __future__ import annotations

from .applications import Criterion, CriterionSource, Rating
from .audit import AuditLog
from .base import Base, utcnow
from .campaigns import (
    Campaign,
    CampaignKind,
    CampaignState,
    Delivery,
    DeliveryState,
    PauseReason,
    UnknownPolicy,
)
from .communities import Community, Stage
from .inbound import InboundKind, InboundMessage, InboundState, Intent
from .meetings import (
    Availability,
    KeyRole,
    Meeting,
    MeetingState,
    Poll,
    PollAnswer,
    PollComment,
    PollRole,
    PollSlot,
    PollState,
    Rsvp,
    RsvpStatus,
)
from .people import (
    ConsentBasis,
    ConsentRecord,
    Membership,
    MembershipState,
    ParticipationLevel,
    Person,
    Source,
    Suppression,
)
from .questionnaires import Questionnaire, QuestionnaireKind, Response, ResponseChannel
from .settings import InstanceSetting
from .tokens import Token, TokenPurpose
from .users import CommunityCoordinator, Role, User

__all__ = [
    "Availability",
    "KeyRole",
    "Meeting",
    "MeetingState",
    "Poll",
    "PollAnswer",
    "PollComment",
    "PollRole",
    "PollSlot",
    "PollState",
    "Rsvp",
    "RsvpStatus",
    "AuditLog",
    "Base",
    "Campaign",
    "CampaignKind",
    "CampaignState",
    "Community",
    "Criterion",
    "CriterionSource",
    "CommunityCoordinator",
    "ConsentBasis",
    "ConsentRecord",
    "Delivery",
    "PauseReason",
    "UnknownPolicy",
    "DeliveryState",
    "InboundKind",
    "InboundMessage",
    "InboundState",
    "InstanceSetting",
    "Intent",
    "Membership",
    "MembershipState",
    "ParticipationLevel",
    "Person",
    "Questionnaire",
    "QuestionnaireKind",
    "Rating",
    "Response",
    "ResponseChannel",
    "Role",
    "Source",
    "Stage",
    "Suppression",
    "Token",
    "TokenPurpose",
    "User",
    "utcnow",
]
