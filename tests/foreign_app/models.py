"""The shop's SQLAlchemy models: a schema, table and column names in mixed case, varchar
columns, and no index on the hot path but the primary keys (the "before" a new user brings)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, MetaData, Numeric, String, Text
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "Shop"


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Customer(Base):
    __tablename__ = "Customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(120))
    displayName: Mapped[str | None] = mapped_column(String(80))


class Order(Base):
    __tablename__ = "Orders"

    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    customerId: Mapped[int] = mapped_column(ForeignKey(Customer.id))
    status: Mapped[str] = mapped_column(String(20))
    createdAt: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    note: Mapped[str | None] = mapped_column(Text)
