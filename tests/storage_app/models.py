"""A Python library's storage, declared the way such libraries declare it: SQLAlchemy models
created with ``metadata.create_all``, lookup columns marked ``index=True`` (so their indexes are
named ``ix_<table>_<column>``, the shape of dbtune's own names), child tables keyed by a unique
``(parent_id, key)`` pair, a single-column DESC index, and an event table filtered on an
unbounded ``text`` column. Nothing here knows dbtune."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData()


class Study(Base):
    __tablename__ = "studies"

    study_id: Mapped[int] = mapped_column(primary_key=True)
    study_name: Mapped[str] = mapped_column(String(512), unique=True, index=True)


class Trial(Base):
    __tablename__ = "trials"

    trial_id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    study_id: Mapped[int] = mapped_column(ForeignKey(Study.study_id), index=True)
    state: Mapped[str] = mapped_column(String(8))
    datetime_start: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    __table_args__ = (Index("ix_trials_datetime_start_desc", datetime_start.desc()),)


class TrialParam(Base):
    __tablename__ = "trial_params"

    param_id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey(Trial.trial_id))
    param_name: Mapped[str] = mapped_column(String(512))
    param_value: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("trial_id", "param_name"),)


class TrialUserAttribute(Base):
    __tablename__ = "trial_user_attributes"

    trial_user_attribute_id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey(Trial.trial_id))
    key: Mapped[str] = mapped_column(String(512))
    value_json: Mapped[str] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("trial_id", "key"),)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    payload: Mapped[str | None] = mapped_column(Text)
