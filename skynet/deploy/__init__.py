"""Deployment: build ``skynet.pex``, install it on hosts, switch releases, run services and DAGs.

``fabfile.py`` at the repository root is a thin layer over :class:`Deployment` and
:func:`build_pex`; the host layout is described by :class:`Layout`. Nothing here is imported
by the rest of skynet except the small helpers behind ``skynet deploy`` commands.
"""

from skynet.deploy._build import Build, build_pex, project_version, source_date_epoch
from skynet.deploy._dags import render_dag
from skynet.deploy._deployment import Deployment
from skynet.deploy._host import CommandResult, Host, Layout, LocalHost, SSHHost, build_number, release_tag
from skynet.deploy._inventory import DagSpec, Environment, Inventory, ServiceSpec, TaskSpec, load_inventory
from skynet.deploy._services import SupervisorManager, SystemdManager, render_template, service_manager
from skynet.deploy._store import BuildStore, StoredBuild, open_build_store, sha256_file

__all__ = [
    "Build",
    "BuildStore",
    "CommandResult",
    "DagSpec",
    "Deployment",
    "Environment",
    "Host",
    "Inventory",
    "Layout",
    "LocalHost",
    "SSHHost",
    "ServiceSpec",
    "StoredBuild",
    "SupervisorManager",
    "SystemdManager",
    "TaskSpec",
    "build_number",
    "build_pex",
    "load_inventory",
    "open_build_store",
    "project_version",
    "release_tag",
    "render_dag",
    "render_template",
    "service_manager",
    "sha256_file",
    "source_date_epoch",
]
