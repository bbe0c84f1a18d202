"""The model registry: model versions with lineage, aliases, and the history of every alias.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-14

Frozen on purpose, like ``0001``: it spells out the columns instead of importing ``_tables``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
JSON_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
MODEL = sa.String(255)
SHORT = sa.String(64)
CHOICE = sa.String(16)


def upgrade() -> None:
    op.create_table(
        "model_version",
        sa.Column("name", MODEL, nullable=False),
        sa.Column("model_type", SHORT, nullable=False),
        sa.Column("params", JSON_TEXT, nullable=False),
        sa.Column("metrics", JSON_TEXT, nullable=False),
        sa.Column("artifact_uri", sa.String(1024), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("lineage", JSON_TEXT, nullable=False),
        sa.Column("registered_by", sa.String(255), nullable=False),
        sa.Column("registered_at", TIMESTAMP, nullable=False),
        sa.Column("status", CHOICE, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_model_version"),
    )
    op.create_index("ix_model_version_type_time", "model_version", ["model_type", "registered_at"])
    op.create_table(
        "model_alias",
        sa.Column("model_type", SHORT, nullable=False),
        sa.Column("alias", SHORT, nullable=False),
        sa.Column("name", MODEL, nullable=False),
        sa.PrimaryKeyConstraint("model_type", "alias", name="pk_model_alias"),
    )
    op.create_table(
        "model_alias_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("model_type", SHORT, nullable=False),
        sa.Column("alias", SHORT, nullable=False),
        sa.Column("old_name", MODEL, nullable=True),
        sa.Column("new_name", MODEL, nullable=True),
        sa.Column("who", sa.String(255), nullable=False),
        sa.Column("time", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("action", CHOICE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_alias_event"),
    )
    op.create_index("ix_model_alias_event_alias", "model_alias_event", ["model_type", "alias"])


def downgrade() -> None:
    op.drop_index("ix_model_alias_event_alias", table_name="model_alias_event")
    op.drop_table("model_alias_event")
    op.drop_table("model_alias")
    op.drop_index("ix_model_version_type_time", table_name="model_version")
    op.drop_table("model_version")
