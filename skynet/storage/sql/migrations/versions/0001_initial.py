"""Initial schema: one table per record kind, keyed like the domain records.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Frozen on purpose: it spells out the columns instead of importing ``_tables`` so later
changes to the tables need a new revision (a test checks the head matches ``_tables``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
CHOICE = sa.String(16)


def _timed(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("device_id", ID, nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("device_id", "timestamp", name=f"pk_{name}"),
        sqlite_with_rowid=False,
    )


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("device_id", ID, nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("latitude", sa.Double()),
        sa.Column("longitude", sa.Double()),
        sa.Column("country", sa.String(64)),
        sa.Column("city", sa.String(64)),
        sa.Column("climate", sa.String(64)),
        sa.Column("building_type", sa.String(64)),
        sa.Column("cooling_type", sa.String(64)),
        sa.Column("min_set_temperature", sa.Double(), nullable=False),
        sa.Column("max_set_temperature", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name="pk_devices"),
    )
    op.create_table(
        "users",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("device_id", ID),
        sa.Column("name", sa.String(255)),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
    )
    _timed(
        "sensor_readings",
        sa.Column("temperature", sa.Double(), nullable=False),
        sa.Column("humidity", sa.Double()),
        sa.Column("luminosity", sa.Double()),
        sa.Column("air_speed", sa.Double()),
    )
    _timed(
        "weather",
        sa.Column("temperature", sa.Double(), nullable=False),
        sa.Column("humidity", sa.Double()),
        sa.Column("running_mean_temperature", sa.Double()),
    )
    _timed(
        "feedback",
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("user_id", ID),
        sa.Column("clothing", sa.Double()),
        sa.Column("metabolic_rate", sa.Double()),
    )
    _timed(
        "appliance_states",
        sa.Column("power", sa.Boolean(), nullable=False),
        sa.Column("mode", CHOICE),
        sa.Column("set_temperature", sa.Double()),
        sa.Column("fan", CHOICE),
        sa.Column("origin", CHOICE, nullable=False),
    )
    _timed(
        "control_targets",
        sa.Column("mode", CHOICE, nullable=False),
        sa.Column("value", sa.Double()),
        sa.Column("origin", CHOICE, nullable=False),
    )


def downgrade() -> None:
    for name in ("control_targets", "appliance_states", "feedback", "weather", "sensor_readings", "users",
                 "devices"):  # fmt: skip
        op.drop_table(name)
