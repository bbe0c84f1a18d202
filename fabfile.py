"""Fabric 3 tasks that build and deploy skynet (a thin layer over :mod:`skynet.deploy`).

    fab build [--build-num N]                     build dist/skynet-<version>-b<N>.pex into the build store
    fab staging pred deploy [--build-num N]       install-pex + release + airflow-dag-release
    fab staging pred restart-all                  restart services, wait healthy, roll back on failure
    fab staging pred install-pex [--build-num N]  (default: the newest build in the store)
    fab staging pred release [--service S]        (default: every service of the group)
    fab staging pred airflow-dag-release [--dag-name D]
    fab staging pred rollback | clean [--n-keep 5] | remove-extracted-pex-artifacts

``staging``/``production`` and ``train``/``pred`` only choose where the next tasks go; the
hosts, services and DAGs come from ``inventory.yml`` (or ``$SKYNET_INVENTORY``). The README's
Deploy section documents every task and the layout on the hosts.
"""

from __future__ import annotations

import os
from pathlib import Path

from fabric import task
from invoke.exceptions import Exit

from skynet import deploy as sd
from skynet.config import masked
from skynet.errors import SkynetError

HERE = Path(__file__).resolve().parent


def _inventory() -> sd.Inventory:
    return sd.load_inventory(os.environ.get("SKYNET_INVENTORY") or HERE / "inventory.yml")


def _choose(c, key: str, value: str) -> None:
    """Remember the environment or group for the tasks that follow on the command line."""
    c.config["skynet_" + key] = value


def _deployment(c) -> sd.Deployment:
    env, group = c.config.get("skynet_env"), c.config.get("skynet_group")
    if not env or not group:
        raise Exit("choose an environment and a group first, e.g. `fab staging pred deploy`", code=2)
    return sd.Deployment(_inventory(), env, group, templates=HERE / "install")


def _run(c, method: str, **kwargs) -> None:
    try:
        getattr(_deployment(c), method)(**kwargs)
    except SkynetError as exc:
        raise Exit(f"FAILED: {masked(str(exc))}", code=1) from None


def _num(value) -> int | None:
    return None if value in (None, "") else int(value)


@task
def staging(c):
    """Work on the staging environment."""
    _choose(c, "env", "staging")


@task
def production(c):
    """Work on the production environment."""
    _choose(c, "env", "production")


@task
def train(c):
    """Work on the train hosts (Airflow DAGs)."""
    _choose(c, "group", "train")


@task
def pred(c):
    """Work on the pred hosts (services)."""
    _choose(c, "group", "pred")


@task(help={"build-num": "the CI build number (default: 1 + the newest build in the store)"})
def build(c, build_num=None):
    """Build the PEX reproducibly and put it (with its .sha256) into the build store."""
    try:
        store = sd.open_build_store(_inventory().build_store)
        number = _num(build_num)
        if number is None:
            number = (max(store.builds()) + 1) if store.builds() else 1
        result = sd.build_pex(HERE, number, HERE / "dist", store)
    except SkynetError as exc:
        raise Exit(f"FAILED: {masked(str(exc))}", code=1) from None
    print(f"{result.path}  {result.sha256}  {result.size / 1e6:.1f} MB  {result.seconds:.0f} s")


@task(name="install-pex", help={"build-num": "build to install (default: the newest in the store)"})
def install_pex(c, build_num=None):
    """Copy a build's PEX to ROOT/shared/pex/TAG.pex on every host (after a smoke test there)."""
    _run(c, "install_pex", build_num=_num(build_num))


@task(
    help={
        "service": "only this service (default: all of the group)",
        "build-num": "default: newest installed",
    }
)
def release(c, service=None, build_num=None):
    """Make service releases (config.yml + skynet.pex link) and switch their `current`."""
    _run(c, "release", service=service, build_num=_num(build_num))


@task(name="airflow-dag-release", help={"dag-name": "only this DAG (default: all of the group)",
                                        "build-num": "default: newest installed"})  # fmt: skip
def airflow_dag_release(c, dag_name=None, build_num=None):
    """Render the group's Airflow DAGs for a release and switch their `current`."""
    _run(c, "airflow_dag_release", dag_name=dag_name, build_num=_num(build_num))


@task(help={"build-num": "build to deploy (default: the newest in the store)"})
def deploy(c, build_num=None):
    """install-pex, then release and airflow-dag-release of that build."""
    _run(c, "deploy", build_num=_num(build_num))


@task(name="restart-all")
def restart_all(c):
    """Restart the group's services; one that is not healthy goes back to its previous release."""
    _run(c, "restart_all")


@task
def rollback(c):
    """Switch every service and DAG back to its previous release and restart the services."""
    _run(c, "rollback")


@task(help={"n-keep": "releases to keep per service/DAG (current is always kept)"})
def clean(c, n_keep=5):
    """Delete old releases and unused shared PEXes."""
    _run(c, "clean", n_keep=int(n_keep))


@task(name="remove-extracted-pex-artifacts")
def remove_extracted_pex_artifacts(c):
    """Delete PEX_ROOT entries of builds no longer installed."""
    _run(c, "remove_extracted_pex_artifacts")
