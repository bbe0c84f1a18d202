"""The deployment tasks over every host of one environment and group (what the fab tasks call).

Services run as the inventory's unprivileged ``service_user``: every task that touches a host
first makes sure that user exists there (``useradd --system``, idempotent), the release's
``config.yml`` is 0600 and owned by it, PEX_ROOT and the data folders are its own, and every
run of the PEX (smoke test, ``config check``, health checks) happens as that user, so root
never executes code from a folder another user can write.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skynet.config import masked
from skynet.deploy._dags import render_dag
from skynet.deploy._host import Host, Layout, LocalHost, SSHHost, build_number, ensure_user, q
from skynet.deploy._inventory import DagSpec, Inventory, ServiceSpec
from skynet.deploy._release import (
    clean_pexes,
    clean_releases,
    command_exists,
    current_tag,
    install_pex,
    installed_tags,
    make_release,
    own_pex_root,
    remove_extracted_pex_artifacts,
    rollback_link,
    run_pex,
    switch_current,
)
from skynet.deploy._services import ServiceManager, service_manager, wait_healthy
from skynet.deploy._store import open_build_store
from skynet.errors import DeployError

__all__ = ["Deployment"]


class Deployment:
    """``fab ENV GROUP <task>``: each method runs one task on every host of the group, in turn,
    and stops at the first host that fails (raising :class:`DeployError` naming it).

    Args:
        inventory: the loaded inventory.
        env: environment name (``staging``, ``production``).
        group: host group (``train``, ``pred``).
        templates: the repository's ``install/`` folder (systemd and supervisor templates).
        connect: opens a host by address (default: SSH with the inventory's options; the
            address ``local`` means this machine).
        log: takes one line of progress (default: stderr).
    """

    def __init__(
        self,
        inventory: Inventory,
        env: str,
        group: str,
        templates: Path,
        connect: Callable[[str], Host] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.inventory, self.env, self.group = inventory, env, group
        self.addresses = inventory.hosts(env, group)
        self.services: dict[str, ServiceSpec] = inventory.services[group]
        self.dags: dict[str, DagSpec] = inventory.dags[group]
        self.layout = Layout(inventory.root, inventory.pex_root)
        self.templates = Path(templates)
        #: The user services run as; None: the SSH user (``service_user: ""`` in the inventory).
        self.user: str | None = inventory.service_user or None
        self._groups: dict[str, str] = {}
        ssh = inventory.ssh_options(env)
        self.connect = connect or (lambda a: LocalHost() if a == "local" else SSHHost(a, ssh))
        sink = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.log: Callable[[str], None] = lambda line: sink(masked(line))
        if not self.addresses:
            raise DeployError(f"{inventory.path}: environment {env!r} has no hosts in group {group!r}")

    @contextmanager
    def _hosts(self) -> Iterator[Iterator[Host]]:
        opened: list[Any] = []

        def each() -> Iterator[Host]:
            for address in self.addresses:
                host = self.connect(address)
                opened.append(host)
                yield host

        try:
            yield each()
        finally:
            for host in opened:
                getattr(host, "close", lambda: None)()

    def _owner(self, host: Host) -> str | None:
        """``user:group`` of the service user on the host (created there if missing), or None."""
        if self.user is None:
            return None
        if host.name not in self._groups:
            self._groups[host.name] = ensure_user(host, self.user)
        return f"{self.user}:{self._groups[host.name]}"

    def _manager(self, host: Host) -> ServiceManager:
        owner = self._owner(host)
        group = owner.split(":", 1)[1] if owner else None
        return service_manager(
            host, self.layout, self.templates, self.inventory.service_manager, self.user, group
        )

    # -- install-pex -------------------------------------------------------------------------
    def install_pex(self, build_num: int | None = None) -> str:
        """Install a build (default: the newest in the store) on every host; returns its tag."""
        store = open_build_store(self.inventory.build_store)
        with tempfile.TemporaryDirectory(prefix="skynet-fetch-") as cache:
            build = store.fetch(build_num, Path(cache))
            self.log(
                f"build {build.build_num} = {build.tag} (sha256 {build.sha256[:12]}…) from {store.location}"
            )
            with self._hosts() as hosts:
                for host in hosts:
                    own_pex_root(host, self.layout, self._owner(host))
                    install_pex(host, self.layout, build, self.inventory.smoke_test, self.user)
                    self.log(f"{host.name}: installed {self.layout.pex(build.tag)}")
        return build.tag

    def _tag(self, host: Host, build_num: int | None) -> str:
        tags = installed_tags(host, self.layout)
        if build_num is not None:
            tags = [t for t in tags if build_number(t) == int(build_num)]
        if not tags:
            which = f"build {build_num}" if build_num is not None else "any build"
            raise DeployError(
                f"{host.name}: {which} is not installed in {self.layout.pex_dir} (run install-pex)"
            )
        return tags[-1]

    def _config_yml(self, extra: dict[str, Any]) -> bytes:
        import yaml

        header = f"# skynet configuration for {self.env}/{self.group}, written by the deployment\n"
        return (
            header + yaml.safe_dump(self.inventory.release_config(self.env, extra), sort_keys=True)
        ).encode()

    def _data_dirs(self, host: Host, extra: dict[str, Any]) -> None:
        """Make the release's data folders (``general.data_dir``, ``models.store``/``reports``)
        the service user's, creating missing ones; an existing folder owned by someone else is
        left alone, with a warning (a recursive chown is the operator's decision)."""
        owner = self._owner(host)
        if owner is None:
            return
        config = self.inventory.release_config(self.env, extra)
        general, models = config.get("general") or {}, config.get("models") or {}
        data_dir = str(general.get("data_dir", ""))
        folders = [data_dir] + [str(models.get(k, "{data_dir}/" + k)) for k in ("store", "reports")]
        if not data_dir.startswith("/"):  # ~ or relative: the service's HOME (its state folder) holds it
            folders = [f for f in folders if "{data_dir}" not in f]
        folders = [f.replace("{data_dir}", data_dir) for f in folders]
        user, group = owner.split(":", 1)
        for folder in dict.fromkeys(f for f in folders if f.startswith("/")):
            found = host.run(
                f"if [ -e {q(folder)} ]; then stat -c %U {q(folder)}; "
                f"else install -d -o {q(user)} -g {q(group)} -m 750 {q(folder)} && echo {q(user)}; fi"
            ).stdout.strip()
            if found != user:
                self.log(f"{host.name}: {folder} belongs to {found}, not {user}; the services may not "
                         f"write there (chown -R {owner} {folder})")  # fmt: skip

    def _missing(self, host: Host, tag: str, what: str, commands: list[str], optional: bool) -> bool:
        missing = [c for c in commands if not command_exists(host, self.layout, tag, c, self.user)]
        if not missing:
            return False
        message = f"{host.name}: build {tag} has no `skynet {missing[0]}` (needed by {what})"
        if not optional:
            raise DeployError(message)
        self.log(f"{message}; skipped (optional)")
        return True

    def _release(
        self, host: Host, releases: str, link: str, tag: str, files: dict[str, bytes], extra: dict[str, Any]
    ) -> None:
        release = make_release(host, self.layout, releases, tag, files, self._owner(host))
        self._data_dirs(host, extra)
        # as the service user: the check also proves that user can read its release
        args = ["--config", f"{release}/config.yml", "config", "check"]
        check = run_pex(host, self.layout, f"{release}/skynet.pex", args, check=False, user=self.user)
        if not check.ok:
            if current_tag(host, link) != tag:
                host.run(f"rm -rf {q(release)}", check=False)
            detail = masked(" | ".join((check.stderr or check.stdout).strip().splitlines()[-3:]))
            raise DeployError(
                f"{host.name}: release {release} failed `config check`: {detail}; current unchanged"
            )
        switch_current(host, link, release)
        self.log(f"{host.name}: {link} -> {release}")

    # -- release / airflow-dag-release -------------------------------------------------------
    def release(self, service: str | None = None, build_num: int | None = None) -> None:
        """Make a release of each service (or one) and switch its ``current`` to it."""

        def plan(name: str, tag: str) -> tuple[list[str], bool, str, str, dict[str, bytes], dict[str, Any]]:
            spec = self.services[name]
            commands = [spec.command, spec.health] if spec.health else [spec.command]
            files = {"config.yml": self._config_yml(spec.config)}
            layout = self.layout
            releases, current = layout.service_releases(name), layout.service_current(name)
            return commands, spec.optional, releases, current, files, spec.config

        self._release_each("service", self._pick(self.services, service, "service"), build_num, plan)

    def airflow_dag_release(self, dag_name: str | None = None, build_num: int | None = None) -> None:
        """Render each DAG (or one) for the release and switch its ``current`` to it."""

        def plan(name: str, tag: str) -> tuple[list[str], bool, str, str, dict[str, bytes], dict[str, Any]]:
            dag = self.dags[name]
            files = {
                "config.yml": self._config_yml(dag.config),
                f"{name}.py": render_dag(dag, self.layout, tag).encode(),
            }
            commands = [t.command for t in dag.tasks]
            return (
                commands,
                dag.optional,
                self.layout.dag_releases(name),
                self.layout.dag_current(name),
                files,
                dag.config,
            )

        self._release_each("DAG", self._pick(self.dags, dag_name, "DAG"), build_num, plan)

    def _release_each(
        self, what: str, names: list[str], build_num: int | None, plan: Callable[..., Any]
    ) -> None:
        with self._hosts() as hosts:
            for host in hosts:
                tag = self._tag(host, build_num)
                for name in names:
                    commands, optional, releases, link, files, extra = plan(name, tag)
                    if not self._missing(host, tag, f"{what} {name}", commands, optional):
                        self._release(host, releases, link, tag, files, extra)

    def _pick(self, known: dict[str, Any], name: str | None, what: str) -> list[str]:
        if name is None:
            return list(known)
        if name not in known:
            raise DeployError(
                f"group {self.group} has no {what} {name!r} (known: {', '.join(known) or 'none'})"
            )
        return [name]

    def deploy(self, build_num: int | None = None) -> str:
        """install-pex, release and airflow-dag-release of one build; returns its tag."""
        tag = self.install_pex(build_num)
        number = build_number(tag)
        self.release(build_num=number)
        self.airflow_dag_release(build_num=number)
        if self.services:
            self.log(f"deployed {tag}; run `fab {self.env} {self.group} restart-all` to restart the services")
        return tag

    # -- services ----------------------------------------------------------------------------
    def _released(self, host: Host) -> list[ServiceSpec]:
        out = []
        for spec in self.services.values():
            if current_tag(host, self.layout.service_current(spec.name)):
                out.append(spec)
            else:
                self.log(f"{host.name}: service {spec.name} has no release yet; not started")
        return out

    def restart_all(self) -> None:
        """Restart every released service and wait for it to be healthy; one that is not goes
        back to its previous release (restarted) and the task fails."""
        with self._hosts() as hosts:
            for host in hosts:
                manager = self._manager(host)
                for spec in self._released(host):
                    self._restart(host, manager, spec, roll_back=True)

    def _restart(self, host: Host, manager: ServiceManager, spec: ServiceSpec, roll_back: bool) -> None:
        link = self.layout.service_current(spec.name)
        tag = current_tag(host, link)
        manager.install(spec)
        manager.restart(spec)
        if wait_healthy(manager, spec, self.inventory.health_timeout):
            self.log(f"{host.name}: {spec.name} healthy on {tag} ({manager.kind})")
            return
        status = manager.status(spec)
        if not roll_back:
            raise DeployError(f"{host.name}: service {spec.name} is not healthy on {tag}: {status}")
        try:
            back = rollback_link(host, link, self.layout.service_releases(spec.name))
        except DeployError as exc:
            raise DeployError(
                f"{host.name}: service {spec.name} did not become healthy on {tag} ({status}); {exc}"
            ) from None
        manager.restart(spec)
        healthy = wait_healthy(manager, spec, self.inventory.health_timeout)
        raise DeployError(
            f"{host.name}: service {spec.name} did not become healthy on {tag} ({status}); "
            f"current rolled back to {back}, which is {'healthy' if healthy else 'NOT healthy either'}"
        )

    def _links(self) -> list[tuple[str, str]]:
        """(current link, releases folder) of every service and DAG of the group."""
        layout = self.layout
        links = [(layout.service_current(n), layout.service_releases(n)) for n in self.services]
        return links + [(layout.dag_current(n), layout.dag_releases(n)) for n in self.dags]

    def rollback(self) -> None:
        """Point every service and DAG of the group back at its previous release, then restart
        the services (waiting for them to be healthy)."""
        with self._hosts() as hosts:
            for host in hosts:
                for link, releases in self._links():
                    if current_tag(host, link):
                        self.log(f"{host.name}: {link} -> {rollback_link(host, link, releases)}")
                manager = self._manager(host)
                for spec in self._released(host):
                    self._restart(host, manager, spec, roll_back=False)

    # -- housekeeping ------------------------------------------------------------------------
    def clean(self, n_keep: int = 5) -> None:
        """Keep the ``n_keep`` newest releases of each service and DAG (and never the current
        or previous one), and the shared PEXes that a remaining release uses."""
        if n_keep < 1:
            raise DeployError(f"clean: --n-keep must be at least 1, not {n_keep}")
        with self._hosts() as hosts:
            for host in hosts:
                for link, releases in self._links():
                    for tag in clean_releases(host, link, releases, n_keep):
                        self.log(f"{host.name}: removed {releases}/{tag}")
                for tag in clean_pexes(host, self.layout, n_keep):
                    self.log(f"{host.name}: removed {self.layout.pex(tag)}")

    def remove_extracted_pex_artifacts(self) -> None:
        """Delete what PEXes extracted into PEX_ROOT for builds no longer installed."""
        with self._hosts() as hosts:
            for host in hosts:
                owner = self._owner(host)
                own_pex_root(host, self.layout, owner)
                count = remove_extracted_pex_artifacts(host, self.layout, self.user)
                self.log(f"{host.name}: removed {count} entries from {self.layout.pex_root}")
