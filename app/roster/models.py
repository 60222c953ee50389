"""Hotlines, their responders and shifts: what `hotline roster load` writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime


class Hotline(Base):
    __tablename__ = "hotline"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    safety_info: Mapped[str] = mapped_column(Text, default="")
    emergency_info: Mapped[str] = mapped_column(Text, default="")
    # The escalation policy as loaded: {"tiers": [{"notify", "after_minutes"}...], "repeat": n}.
    # A case copies it when it opens, so a reload changes later cases only.
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A new random value on every roster load: processes cache the roster under it.
    roster_version: Mapped[str] = mapped_column(String(32), default="", server_default="")

    responders: Mapped[list[Responder]] = relationship(back_populates="hotline")


class Responder(Base):
    __tablename__ = "responder"
    __table_args__ = (UniqueConstraint("hotline_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hotline_id: Mapped[int] = mapped_column(ForeignKey("hotline.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    role: Mapped[str] = mapped_column(String(20))  # lead | alternate
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an SMS to them failed for good (opted out, not a mobile, undelivered): pages
    # go to them by voice call until an SMS reaches them again or they text START.
    sms_unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    # When they last answered a drill or verification text from this phone; None until then,
    # and again after a roster load changes their number (app.drills).
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    hotline: Mapped[Hotline] = relationship(back_populates="responders")
    shifts: Mapped[list[Shift]] = relationship(back_populates="responder")


class Shift(Base):
    __tablename__ = "shift"

    id: Mapped[int] = mapped_column(primary_key=True)
    responder_id: Mapped[int] = mapped_column(ForeignKey("responder.id"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)

    responder: Mapped[Responder] = relationship(back_populates="shifts")
