"""Airflow DAG files rendered per release from ``templates/dag.py.tmpl`` (Airflow 3 API).

Values go into the template as Python literals (``repr``), so a name or command can never
break the generated code. Task commands may hold Airflow templates such as
``{{ data_interval_start | ts }}``: BashOperator renders them at run time.
"""

from __future__ import annotations

import shlex
import string
from datetime import date
from importlib import resources

from skynet.deploy._host import Layout
from skynet.deploy._inventory import DagSpec
from skynet.errors import DeployError

__all__ = ["render_dag"]


def render_dag(dag: DagSpec, layout: Layout, release_tag: str) -> str:
    """The source of ``DAG.py`` for ``release_tag``: tasks in order, each running
    ``ROOT/airflow/dags/DAG/current/skynet.pex --config .../config.yml COMMAND``."""
    current = layout.dag_current(dag.name)
    try:
        start = date.fromisoformat(dag.start_date)
    except ValueError:
        raise DeployError(f"DAG {dag.name}: start_date {dag.start_date!r} is not YYYY-MM-DD") from None
    schedule = None if dag.schedule.lower() in ("none", "") else dag.schedule
    template = resources.files("skynet.deploy").joinpath("templates/dag.py.tmpl").read_text()
    return string.Template(template).substitute(
        dag_id=dag.name,
        description=(dag.description or "skynet").replace("\\", "/").replace('"', "'"),
        release_tag=release_tag,
        pex=repr(shlex.quote(f"{current}/skynet.pex")),
        config=repr(shlex.quote(f"{current}/config.yml")),
        env=repr({"PEX_ROOT": layout.pex_root}),
        tasks=repr([(t.id, t.command) for t in dag.tasks]),
        dag_id_literal=repr(dag.name),
        description_literal=repr(dag.description or f"skynet: {', '.join(t.id for t in dag.tasks)}"),
        schedule=repr(schedule),
        start_date=f"{start.year}, {start.month}, {start.day}",
        retries=int(dag.retries),
        retry_delay_minutes=int(dag.retry_delay_minutes),
        release_tag_literal=repr(release_tag),
    )
