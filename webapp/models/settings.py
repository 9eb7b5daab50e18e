"""Values the instance generates once and keeps, such as the suppression hashing key."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class InstanceSetting(Base):
    """A named value generated once for this instance."""

    __tablename__ = "instance_settings"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
