"""What a deployment does on one host: install a PEX, make releases, switch, roll back, clean.

Every step that could leave a host half-done is ordered so it cannot: files are written under
a temporary name and renamed into place; ``current`` is a symlink made under a temporary name
and renamed over the old one (``mv -T``), so it always points at a complete release; a PEX
that fails its smoke test is deleted before anything points at it.

Every path and name that reaches the host's shell goes through :func:`~skynet.deploy._host.q`
(``shlex.quote``), so a root holding a space or a ``;`` is a path like any other. A release's
``config.yml`` holds secrets: it is uploaded into a private (0700) folder, made 0600 and owned
by the service user there, and only then renamed into place. The PEX runs as that user.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skynet.deploy._host import Host, Layout, as_user, build_number, q, tmp_name
from skynet.deploy._store import StoredBuild
from skynet.errors import DeployError

__all__ = [
    "install_pex",
    "installed_tags",
    "make_release",
    "switch_current",
    "current_tag",
    "rollback_link",
    "clean_releases",
    "clean_pexes",
    "remove_extracted_pex_artifacts",
    "run_pex",
    "command_exists",
    "write_file",
    "own_pex_root",
    "SECRET_FILES",
]

#: Release files that hold secrets (``${DB_PASSWORD}`` expanded): mode 0600, owned by the service user.
SECRET_FILES = ("config.yml",)


def write_file(host: Host, path: str, data: bytes, mode: str = "644", owner: str | None = None) -> None:
    """Write ``data`` to ``path`` on the host atomically, never readable by others on the way.

    The data lands in a fresh private folder beside ``path`` (``mktemp -d``: mode 0700), gets
    its mode (and ``owner``, ``user:group``) there, and is renamed into place.
    """
    if not re.fullmatch(r"[0-7]{3,4}", mode):
        raise DeployError(f"write_file: mode {mode!r} is not octal")
    parent, name = str(Path(path).parent), Path(path).name
    folder = host.run(f"mkdir -p {q(parent)} && mktemp -d {q(parent + '/.upload-XXXXXXXX')}").stdout.strip()
    tmp = f"{folder}/{name}"
    try:
        host.put(data, tmp)
        chown = f" && chown {q(owner)} {q(tmp)}" if owner else ""
        host.run(f"chmod {mode} {q(tmp)}{chown} && mv -f {q(tmp)} {q(path)}")
    finally:
        host.run(f"rm -rf {q(folder)}", check=False)


def run_pex(
    host: Host,
    layout: Layout,
    pex: str,
    args: Sequence[str],
    check: bool = True,
    timeout: float = 600,
    user: str | None = None,
) -> Any:
    """Run ``pex ARGS...`` on the host (as ``user``, if given) with the deployment's PEX_ROOT;
    every word is quoted."""
    words = " ".join(q(a) for a in args)
    cmd = f"{as_user(user)}env PEX_ROOT={q(layout.pex_root)} {q(pex)} {words}".rstrip()
    return host.run(cmd, check=check, timeout=timeout)


def own_pex_root(host: Host, layout: Layout, owner: str | None) -> None:
    """Create PEX_ROOT (and the shared PEX folder); with ``owner`` (``user:group``), PEX_ROOT
    and everything in it belong to the service user, who unpacks the PEXes there."""
    host.run(f"mkdir -p {q(layout.pex_dir)} {q(layout.pex_root)}")
    if owner:
        user = owner.split(":")[0]
        # only what is not the user's yet: a PEX run by hand as root left root's files behind
        host.run(f"find {q(layout.pex_root)} ! -user {q(user)} -exec chown -h {q(owner)} {{}} +")


def install_pex(
    host: Host, layout: Layout, build: StoredBuild, smoke_test: str, user: str | None = None
) -> str:
    """Put a build's PEX at ``ROOT/shared/pex/TAG.pex`` after checking it runs there.

    The file arrives under a temporary name; its sha256 is checked and ``smoke_test`` (a skynet
    subcommand, e.g. ``deploy check``, run as ``user``) must exit 0, else the file is deleted
    and this raises. Installing the same build again (same sha256) is a no-op.

    Returns:
        The release tag.
    """
    final = layout.pex(build.tag)
    have = host.run(f"cat {q(final + '.sha256')} 2>/dev/null", check=False).stdout.split()
    if have and have[0] == build.sha256 and host.run(f"test -x {q(final)}", check=False).ok:
        return build.tag
    tmp = tmp_name(f"{layout.pex_dir}/.{build.tag}.pex")
    host.run(f"mkdir -p {q(layout.pex_dir)} {q(layout.pex_root)}")
    same = _installed_with_sha(host, layout, build.sha256)
    if same:  # an identical PEX under another build number: copy it on the host, not over the wire
        host.run(f"cp {q(same)} {q(tmp)}")
    else:
        host.put(build.path, tmp)
    actual = host.run(f"sha256sum < {q(tmp)}").stdout.split()[0]
    if actual != build.sha256:
        host.run(f"rm -f {q(tmp)}", check=False)
        raise DeployError(
            f"{host.name}: {build.tag}.pex arrived with sha256 {actual}, expected {build.sha256}"
        )
    host.run(f"chmod 755 {q(tmp)}")
    result = run_pex(host, layout, tmp, shlex.split(smoke_test), check=False, user=user)
    if not result.ok:
        host.run(f"rm -f {q(tmp)}", check=False)
        detail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise DeployError(
            f"{host.name}: build {build.tag} failed its smoke test `skynet {smoke_test}` "
            f"(exit {result.exited}): {detail}; nothing was installed"
        )
    sums = tmp_name(f"{final}.sha256")
    host.run(f"printf '%s  %s\\n' {q(build.sha256)} {q(build.tag + '.pex')} > {q(sums)} "
             f"&& mv -f {q(sums)} {q(final + '.sha256')} && mv -f {q(tmp)} {q(final)}")  # fmt: skip
    return build.tag


def _installed_with_sha(host: Host, layout: Layout, sha256: str) -> str | None:
    out = host.run(f"cat {q(layout.pex_dir)}/*.pex.sha256 2>/dev/null", check=False).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == sha256:
            path = f"{layout.pex_dir}/{parts[1]}"
            if host.run(f"test -f {q(path)}", check=False).ok:
                return path
    return None


def installed_tags(host: Host, layout: Layout) -> list[str]:
    """Release tags of the PEXes installed on the host, oldest build first."""
    out = host.run(f"ls -1 {q(layout.pex_dir)} 2>/dev/null", check=False).stdout
    tags = [n[: -len(".pex")] for n in out.split() if n.endswith(".pex") and not n.startswith(".")]
    return sorted(tags, key=build_number)


def command_exists(host: Host, layout: Layout, tag: str, command: str, user: str | None = None) -> bool:
    """Whether the build's CLI has ``command`` (its words up to the first option) and every
    ``--option`` the command uses (asked as ``user``)."""
    words = shlex.split(command)
    path = []
    for word in words:
        if word.startswith("-") or "{{" in word:
            break
        path.append(word)
    result = run_pex(host, layout, layout.pex(tag), [*path, "--help"], check=False, user=user)
    if not result.ok:
        return False
    options = {w.split("=")[0] for w in words if w.startswith("--")}
    return all(re.search(rf"(^|[\s,/]){re.escape(o)}([\s=,/]|$)", result.stdout, re.M) for o in options)


def make_release(
    host: Host, layout: Layout, releases_dir: str, tag: str, files: dict[str, bytes], owner: str | None = None
) -> str:
    """Create ``releases_dir/TAG/`` holding ``files`` and ``skynet.pex`` (a link to the shared PEX).

    The :data:`SECRET_FILES` among ``files`` are mode 0600, owned by ``owner`` (``user:group``)
    where given; the others are 0644.

    Returns:
        The release directory.
    """
    pex = layout.pex(tag)
    if not host.run(f"test -x {q(pex)}", check=False).ok:
        raise DeployError(f"{host.name}: {pex} is not installed (run install-pex first)")
    release = f"{releases_dir}/{tag}"
    host.run(f"mkdir -p {q(release)}")
    for name, data in files.items():
        secret = name in SECRET_FILES
        write_file(host, f"{release}/{name}", data, "600" if secret else "644", owner if secret else None)
    link = f"{release}/skynet.pex"
    tmp = tmp_name(link)
    host.run(f"ln -sfn {q(pex)} {q(tmp)} && mv -Tf {q(tmp)} {q(link)}")
    return release


def current_tag(host: Host, link: str) -> str | None:
    """The release tag ``link`` (a ``current``) points at, or ``None``."""
    result = host.run(f"readlink {q(link)}", check=False)
    return Path(result.stdout.strip().rstrip("/")).name if result.ok and result.stdout.strip() else None


def switch_current(host: Host, link: str, target: str, remember_previous: bool = True) -> str | None:
    """Point ``link`` at ``target`` atomically; the old target is kept in ``previous`` beside it.

    Returns:
        The old target, or ``None``.
    """
    old = host.run(f"readlink {q(link)}", check=False).stdout.strip() or None
    previous = str(Path(link).with_name("previous"))
    tmp = tmp_name(link)
    host.run(f"mkdir -p {q(Path(link).parent)} && ln -sfn {q(target)} {q(tmp)} && mv -Tf {q(tmp)} {q(link)}")
    if remember_previous and old and old.rstrip("/") != target.rstrip("/"):
        tmp = tmp_name(previous)
        host.run(f"ln -sfn {q(old)} {q(tmp)} && mv -Tf {q(tmp)} {q(previous)}")
    return old


def rollback_link(host: Host, link: str, releases_dir: str) -> str:
    """Point ``link`` back: at ``previous`` (what it pointed at before the last switch) if that
    release still exists, else at the newest release older than the current one.

    Returns:
        The release tag now current.

    Raises:
        DeployError: there is nothing to go back to.
    """
    now = current_tag(host, link)
    if now is None:
        raise DeployError(f"{host.name}: {link} does not exist; nothing to roll back")
    previous = str(Path(link).with_name("previous"))
    target = current_tag(host, previous)
    if target == now or not (
        target and host.run(f"test -d {q(releases_dir + '/' + target)}", check=False).ok
    ):
        older = [t for t in _release_tags(host, releases_dir) if build_number(t) < build_number(now)]
        if not older:
            raise DeployError(
                f"{host.name}: no release older than {now} in {releases_dir}; nothing to roll back"
            )
        target = older[-1]
    switch_current(host, link, f"{releases_dir}/{target}", remember_previous=False)
    host.run(f"rm -f {q(previous)}")
    return target


def _release_tags(host: Host, releases_dir: str) -> list[str]:
    out = host.run(f"ls -1 {q(releases_dir)} 2>/dev/null", check=False).stdout.split()
    return sorted((t for t in out if re.match(r"^[0-9][A-Za-z0-9.]*-b[0-9]+$", t)), key=build_number)


def clean_releases(host: Host, link: str, releases_dir: str, n_keep: int) -> list[str]:
    """Delete all but the ``n_keep`` newest releases (by build number), never the ones
    ``current`` and ``previous`` point at. Returns the deleted tags."""
    keep = {current_tag(host, link), current_tag(host, str(Path(link).with_name("previous")))}
    tags = _release_tags(host, releases_dir)
    keep.update(tags[-n_keep:] if n_keep > 0 else [])
    doomed = [t for t in tags if t not in keep]
    if doomed:
        host.run("rm -rf " + " ".join(q(f"{releases_dir}/{t}") for t in doomed))
    return doomed


def clean_pexes(host: Host, layout: Layout, n_keep: int) -> list[str]:
    """Delete shared PEXes no release links to, keeping the ``n_keep`` newest. Returns their tags."""
    used = host.run(f"find {q(layout.root + '/services')} {q(layout.root + '/airflow')} -maxdepth 4 "
                    "-name skynet.pex -type l -exec readlink {} \\; 2>/dev/null", check=False).stdout  # fmt: skip
    # one target per line: the root may hold a space, so never split on blanks
    used_tags = {Path(p).name[: -len(".pex")] for p in used.splitlines() if p.endswith(".pex")}
    tags = installed_tags(host, layout)
    keep = used_tags | set(tags[-n_keep:] if n_keep > 0 else [])
    doomed = [t for t in tags if t not in keep]
    if doomed:
        host.run("rm -f " + " ".join(f"{q(layout.pex(t))} {q(layout.pex(t) + '.sha256')}" for t in doomed))
    return doomed


#: Runs on the host (its python3.11): deletes PEX_ROOT entries no installed PEX uses.
_PRUNE = r"""
import json, os, shutil, sys, zipfile
pex_dir, root = sys.argv[1], sys.argv[2]
wheels, pexes = set(), set()
for name in os.listdir(pex_dir):
    if name.endswith(".pex") and not name.startswith("."):
        with zipfile.ZipFile(os.path.join(pex_dir, name)) as zf:
            info = json.loads(zf.read("PEX-INFO"))
        wheels.update(info.get("distributions", {}).values())
        pexes.add(info.get("pex_hash"))
removed = 0
def drop(path):
    global removed
    shutil.rmtree(path, ignore_errors=True)
    removed += 1
for top, keep in (("installed_wheels", wheels), ("venvs", pexes), ("unzipped_pexes", pexes)):
    base = os.path.join(root, top)
    for version in os.listdir(base) if os.path.isdir(base) else []:
        vdir = os.path.join(base, version)
        for entry in os.listdir(vdir) if os.path.isdir(vdir) else []:
            path = os.path.join(vdir, entry)
            if entry == "s" and top == "venvs":
                for short in os.listdir(path):
                    link = os.path.join(path, short, "venv")
                    if os.path.islink(link) and not os.path.exists(link):
                        drop(os.path.join(path, short))
            elif not entry.startswith(".") and len(entry) >= 32 and entry not in keep:
                drop(path)
print(removed)
"""


def remove_extracted_pex_artifacts(host: Host, layout: Layout, user: str | None = None) -> int:
    """Delete what PEXes extracted into PEX_ROOT for builds no longer installed.

    Artifacts of installed PEXes stay, so running services keep their files. The pruning runs
    as ``user``, who owns PEX_ROOT: root never walks a folder another user can fill with links.

    Returns:
        How many cache entries were removed.
    """
    if not host.run(f"test -d {q(layout.pex_root)}", check=False).ok:
        return 0
    script = q(_PRUNE)
    command = f"python3.11 -c {script} {q(layout.pex_dir)} {q(layout.pex_root)}"
    out = host.run(as_user(user) + command).stdout.strip()
    return int(out or 0)
