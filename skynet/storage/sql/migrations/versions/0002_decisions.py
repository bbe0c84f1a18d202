"""The control decision log: one JSON document per decision, indexed by device and time.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

Frozen on purpose, like ``0001``: it spells out the columns instead of importing ``_tables``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(128), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("time", TIMESTAMP, nullable=False),
        sa.Column("document", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_device_time", "decisions", ["device_id", "time"])


def downgrade() -> None:
    op.drop_index("ix_decisions_device_time", table_name="decisions")
    op.drop_table("decisions")
