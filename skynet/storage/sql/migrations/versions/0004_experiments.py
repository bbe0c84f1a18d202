"""Hyper-parameter searches: the search, its points (grid_search_parameter) and their metrics
(model_performance_metadata), with the seed's table names.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-20

Frozen on purpose, like ``0001``: it spells out the columns instead of importing ``_tables``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
JSON_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
MODEL = sa.String(255)
SHORT = sa.String(64)
CHOICE = sa.String(16)


def upgrade() -> None:
    op.create_table(
        "search",
        sa.Column("id", SHORT, nullable=False),
        sa.Column("model_type", SHORT, nullable=False),
        sa.Column("kind", CHOICE, nullable=False),
        sa.Column("dataset_hash", sa.String(64), nullable=False),
        sa.Column("metric", SHORT, nullable=False),
        sa.Column("spec", JSON_TEXT, nullable=False),
        sa.Column("status", CHOICE, nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("finished", TIMESTAMP, nullable=True),
        sa.Column("best_point", sa.Integer(), nullable=True),
        sa.Column("model_name", MODEL, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_search"),
    )
    op.create_index("ix_search_type_created", "search", ["model_type", "created"])
    op.create_table(
        "grid_search_parameter",
        sa.Column("search_id", SHORT, nullable=False),
        sa.Column("point_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("params", JSON_TEXT, nullable=False),
        sa.Column("status", CHOICE, nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started", TIMESTAMP, nullable=True),
        sa.Column("finished", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("search_id", "point_id", name="pk_grid_search_parameter"),
    )
    op.create_table(
        "model_performance_metadata",
        sa.Column("search_id", SHORT, nullable=False),
        sa.Column("point_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fold", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("metric", SHORT, nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("dataset_hash", sa.String(64), nullable=False),
        sa.Column("model_name", MODEL, nullable=False),
        sa.PrimaryKeyConstraint(
            "search_id", "point_id", "fold", "metric", name="pk_model_performance_metadata"
        ),
    )


def downgrade() -> None:
    op.drop_table("model_performance_metadata")
    op.drop_table("grid_search_parameter")
    op.drop_index("ix_search_type_created", table_name="search")
    op.drop_table("search")
