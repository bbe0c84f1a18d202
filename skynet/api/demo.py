"""``skynet demo``: the whole toolkit on a small simulated fleet, in about a minute, no server.

:func:`run_demo` composes the other api functions, in this order: simulate homes
(:func:`skynet.api.sim.generate`), train and evaluate the user comfort model on their votes
(:mod:`skynet.api.user_model`), train the estimation model on some homes and score it on the
others (:mod:`skynet.api.estimation`), run skynet's controller with these two models against
two thermostats on other simulated homes (:func:`skynet.api.control.evaluate`), and write a
report folder.

Where it writes: everything goes into one new report folder, ``<models.reports>/demo-<UTC
time>/`` (or ``out``), built under a temporary name beside it and renamed when complete (a
failed run leaves nothing). The demo never touches the configured record store or model
store: its records and models live in the folder's own embedded workspace (``workspace/``:
a SQLite database, a model store and a ``config.yml`` pointing at both, for ``skynet --config
<folder>/workspace/config.yml ...``). Deleting the folder removes every trace of the demo.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from skynet.api import control as control_api
from skynet.api import estimation as estimation_api
from skynet.api import sim as sim_api
from skynet.api import user_model as user_model_api
from skynet.api._context import open_records, reports_path
from skynet.config import Settings, Storage
from skynet.domain import ApplianceState, Device
from skynet.errors import DataError, ModelError
from skynet.storage.sql import dispose_engines

__all__ = ["run_demo", "STAGES", "DEFAULTS", "MIN_DEVICES", "markdown_table"]

#: The stages, in order, as the progress callback names them.
STAGES = (
    "simulate",
    "train user model",
    "evaluate user model",
    "train estimation",
    "evaluate estimation",
    "evaluate control",
    "report",
)
#: The defaults of :func:`run_demo`; about a minute on a loaded 2-core machine.
DEFAULTS = {"devices": 50, "days": 7.0, "seed": 0, "control_devices": 4, "control_days": 2.0}
#: Homes needed: the estimation model is scored on homes it never saw, the user model by device.
MIN_DEVICES = 3
_CLIMATE = "hot-humid"
_TEST_SHARE = 0.3
_FOLDS = 5
_USER_MODEL_PARAMS: dict[str, Any] = {}
_ESTIMATION_PARAMS: dict[str, Any] = {}

#: progress(stage index, stage, note, seconds since the start): note is None when the stage
#: starts and a short summary when it ends.
Progress = Callable[[int, str, str | None, float], None]


def run_demo(
    settings: Settings,
    devices: int = DEFAULTS["devices"],
    days: float = DEFAULTS["days"],
    seed: int = DEFAULTS["seed"],
    out: str | os.PathLike[str] | None = None,
    control_devices: int = DEFAULTS["control_devices"],
    control_days: float = DEFAULTS["control_days"],
    progress: Progress | None = None,
    bars: bool = False,
) -> dict[str, Any]:
    """Simulate a fleet, train and evaluate both models and control, and write a report folder.

    Args:
        settings: the effective configuration; only ``models.reports`` (where the folder goes
            without ``out``) and ``general.log_level`` are used: the demo's records and models
            live in the report folder's own workspace, never in the configured stores.
        devices: simulated homes the models learn from (and are scored on, by device).
        days: days those homes are simulated.
        seed: seed of everything (the homes, the splits, the models).
        out: the report folder to create (must not exist, or be an empty folder); default
            ``<models.reports>/demo-<UTC time>``.
        control_devices, control_days: the other simulated homes (seed + 1) the closed-loop
            control evaluation runs on.
        progress: called at the start and end of each of :data:`STAGES`.
        bars: also show the api functions' own progress bars on stderr.

    Returns:
        ``report`` (the folder), ``summary_md``, ``summary_html``, ``config`` (the workspace's
        config.yml), ``setup``, ``simulate``, ``user_model``, ``estimation`` and ``control``
        (each with its ``table``, models and ``plots`` inside the folder), ``stages``
        (seconds each) and ``seconds``.

    Raises:
        DataError: bad arguments, ``out`` is a file or a non-empty folder, or the simulated
            homes gave the models too little to learn from.
    """
    started = time.perf_counter()
    _check(devices, days, control_devices, control_days)
    final = _target(settings, out)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        # One BLAS thread: the estimation network and the controller multiply small matrices, and
        # two BLAS threads fight each other and other processes on a 2-core machine (measured
        # under load: training 10-26 s with two threads, 1.3-2.5 s with one).
        with threadpool_limits(1, user_api="blas"):
            result = _run(settings, tmp, final, devices, days, seed, control_devices, control_days,
                          progress, bars, started)  # fmt: skip
        dispose_engines()  # the workspace's pooled SQLite connections: its WAL is checkpointed, files closed
        if final.is_dir():
            final.rmdir()  # an empty folder given as ``out`` (checked above); rename needs it gone
        os.rename(tmp, final)
    except BaseException:
        dispose_engines()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _check(devices: int, days: float, control_devices: int, control_days: float) -> None:
    for name, value, least in (("devices", devices, MIN_DEVICES), ("control_devices", control_devices, 1)):
        if isinstance(value, bool) or int(value) != value or value < least:
            raise DataError(f"{name} must be a whole number >= {least}, got {value}")
    for name, value in (("days", days), ("control_days", control_days)):
        if not np.isfinite(value) or value <= 0:
            raise DataError(f"{name} must be > 0, got {value}")


def _target(settings: Settings, out: str | os.PathLike[str] | None) -> Path:
    """The report folder to create: checked, its parent made; nothing else is written."""
    if out is None:
        parent = reports_path(settings)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        final, n = parent / f"demo-{stamp}", 1
        while final.exists():
            n += 1
            final = parent / f"demo-{stamp}-{n}"
    else:
        final = Path(out).expanduser().absolute()
        if final.exists() and not final.is_dir():
            raise DataError(f"report folder {final} is an existing file")
        if final.is_dir() and any(final.iterdir()):
            raise DataError(f"report folder {final} already exists and is not empty")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the report folder's parent {final.parent}: {exc.strerror}") from None
    return final


def _workspace(settings: Settings, tmp: Path, final: Path) -> Settings:
    """Settings of the demo's own embedded workspace under ``tmp`` (a SQLite store, a model store)."""
    return replace(
        settings,
        general=replace(settings.general, data_dir=str(tmp / "workspace")),
        storage=Storage(),  # the embedded defaults: sqlite:///{data_dir}/skynet.db, in-process live state
        models=replace(settings.models, store="{data_dir}/models", reports=str(tmp / "evaluations")),
        source=f"skynet demo workspace {final / 'workspace'}",
    )


class _Stages:
    """Times the stages and reports them to the progress callback."""

    def __init__(self, progress: Progress | None, started: float) -> None:
        self.progress, self.started = progress, started
        self.seconds: dict[str, float] = {}
        self.note = ""

    @contextmanager
    def run(self, stage: str) -> Iterator[_Stages]:
        """Time ``stage``; a DataError inside (too few votes or rows) names it and says what to do."""
        index, began = STAGES.index(stage), time.perf_counter()
        if self.progress:
            self.progress(index, stage, None, began - self.started)
        try:
            yield self
        except DataError as exc:
            raise DataError(f"demo stage {stage!r}: {exc} (simulate more: raise devices or days)") from None
        now = time.perf_counter()
        self.seconds[stage] = round(now - began, 1)
        if self.progress:
            self.progress(index, stage, self.note, now - self.started)


def _run(settings: Settings, tmp: Path, final: Path, devices: int, days: float, seed: int,
         control_devices: int, control_days: float, progress: Progress | None, bars: bool,
         started: float) -> dict[str, Any]:  # fmt: skip
    demo = _workspace(settings, tmp, final)
    demo = replace(demo, models=replace(demo.models, seed=seed))
    stages = _Stages(progress, started)

    with stages.run("simulate"):
        simulated = sim_api.generate(demo, devices, days, seed, climate=_CLIMATE, progress=bars)
        records = simulated["records"]
        stages.note = (f"{devices} homes x {days:g} days ({_CLIMATE}): {records['sensor_reading']:,} readings, "
                       f"{records['feedback']:,} votes")  # fmt: skip

    with stages.run("train user model"):
        votes = _votes(demo)
        user_name, user_metrics = user_model_api.train(demo, params=_USER_MODEL_PARAMS, frame=votes,
                                                       progress=bars)  # fmt: skip
        stages.note = f"{user_name} on {len(votes)} votes of {votes['device_id'].nunique()} homes"

    with stages.run("evaluate user model"):
        folds = min(_FOLDS, int(votes["device_id"].nunique()))
        user_eval = user_model_api.evaluate(demo, folds=folds, params=_USER_MODEL_PARAMS, frame=votes,
                                            progress=bars)  # fmt: skip
        stages.note = f"{user_eval['folds']}-fold cross-validation by home"

    with stages.run("train estimation"):
        train, test = _split(demo, seed)
        est_name, est_metrics = estimation_api.train(demo, train, params=_ESTIMATION_PARAMS, progress=bars)
        stages.note = (f"{est_name} on {len(train)} homes ({est_metrics['n_rows']:,} rows, "
                       f"{est_metrics['epochs']} epochs)")  # fmt: skip

    with stages.run("evaluate estimation"):
        est_eval = estimation_api.evaluate(demo, model=est_name, plots=min(2, len(test)), progress=bars)
        stages.note = f"on {est_eval['test_devices']['count']} homes it never saw"

    with stages.run("evaluate control"):
        control = control_api.evaluate(demo, control_devices, control_days, seed + 1, _CLIMATE, train="never",
                                       plot_devices=min(2, control_devices), plot_days=control_days,
                                       progress=bars)  # fmt: skip
        if control["models"] != {"estimator": est_name, "comfort": user_name}:
            raise ModelError(f"control did not run on the demo's models: {control['models']}")
        stages.note = (f"{control_devices} other homes x {control_days:g} days, "
                       f"{control['decisions']['count']:,} decisions")  # fmt: skip

    with stages.run("report"):
        result = _report(tmp, final, simulated, (user_name, user_metrics, user_eval),
                         (est_name, est_metrics, est_eval), control, dict(stages.seconds))  # fmt: skip
        stages.note = str(final)
    return result


def _votes(settings: Settings) -> Any:
    """The store's comfort frame, each vote with the air speed of the AC's fan then.

    The simulator's readings carry no air speed; like ``skynet control evaluate``'s own
    training, the votes get the air speed the controller assumes for each fan setting.
    """
    from skynet.api._control_train import with_air_speed
    from skynet.api.data import load_comfort_frame

    votes = load_comfort_frame(settings)
    with open_records(settings) as store:
        states = store.read_frame(ApplianceState)
    return with_air_speed(votes, states)


def _split(settings: Settings, seed: int) -> tuple[list[str], list[str]]:
    """(train, test) homes: a seeded share of the homes is held out of the estimation model's training."""
    with open_records(settings) as store:
        homes = sorted(store.read_frame(Device)["device_id"].astype(str))
    n = max(1, int(round(_TEST_SHARE * len(homes))))
    test = set(np.random.default_rng(seed).choice(homes, size=n, replace=False).tolist())
    return [h for h in homes if h not in test], sorted(test)


# -- the report folder ---------------------------------------------------------------------------


def _report(tmp: Path, final: Path, simulated: dict[str, Any], user: tuple, est: tuple,
            control: dict[str, Any], seconds: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """Move the evaluations' folders to their short names, write config.yml, demo.json and the summaries."""
    user_name, user_metrics, user_eval = user
    est_name, est_metrics, est_eval = est
    moved = {
        "user_model": Path(user_eval["report"]).parent,
        "estimation": Path(est_eval["report"]).parent,
        "control": Path(control["report"]),
    }
    for short, folder in moved.items():
        os.rename(folder, tmp / short)
    shutil.rmtree(tmp / "evaluations", ignore_errors=True)

    def at_end(path: str) -> str:
        """Where a file of an evaluation folder is once the report folder has its final name."""
        for short, folder in moved.items():
            if Path(path).is_relative_to(folder):
                return str(final / short / Path(path).relative_to(folder))
        return str(final / Path(path).relative_to(tmp))

    config = _write_config(tmp, final)
    result = {
        "report": str(final),
        "summary_md": str(final / "summary.md"),
        "summary_html": str(final / "summary.html"),
        "config": str(final / config.relative_to(tmp)),
        "setup": {"devices": simulated["devices"], "days": simulated["days"], "seed": simulated["seed"],
                  "climate": simulated["climate"], "control": control["setup"]},  # fmt: skip
        "simulate": {k: simulated[k] for k in ("records", "ac_kwh_per_home_day", "seconds")},
        "user_model": {"model": user_name, "metrics": user_metrics, "table": user_eval["table"],
                       "curve": user_eval["curve"], "calibration": user_eval["calibration"],
                       "n_rows": user_eval["n_rows"], "n_devices": user_eval["n_devices"],
                       "folds": user_eval["folds"], "plots": [at_end(p) for p in user_eval["plots"]],
                       "report": at_end(user_eval["report"])},  # fmt: skip
        "estimation": {"model": est_name, "metrics": est_metrics, "table": est_eval["table"],
                       "train_devices": est_eval["train_devices"], "test_devices": est_eval["test_devices"],
                       "rc": est_eval["rc"], "n_rows": est_eval["n_rows"],
                       "plots": [at_end(p) for p in est_eval["plots"]],
                       "report": at_end(est_eval["report"])},  # fmt: skip
        "control": {"table": control["table"], "models": control["models"], "decisions": control["decisions"],
                    "plots": [at_end(p) for p in control["plots"]],
                    "report": str(final / "control" / "evaluation.json")},  # fmt: skip
        "stages": seconds,
    }
    _atomic_text(tmp / "demo.json", json.dumps(result, indent=2, default=str) + "\n")
    _atomic_text(tmp / "summary.md", _markdown(result, final))
    _atomic_text(tmp / "summary.html", _html(result, final))
    return result


def _write_config(tmp: Path, final: Path) -> Path:
    """workspace/config.yml: absolute paths of the demo's store and model store once renamed."""
    import yaml

    workspace = final / "workspace"
    config = {
        "general": {"data_dir": str(workspace)},
        "storage": {"url": f"sqlite:///{workspace / 'skynet.db'}"},
        "models": {"store": str(workspace / "models"), "reports": str(workspace / "reports")},
    }
    path = tmp / "workspace" / "config.yml"
    _atomic_text(path, yaml.safe_dump(config, sort_keys=False))
    return path


def _atomic_text(path: Path, text: str) -> None:
    part = path.with_name(f".{path.name}.tmp")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def _cell(value: Any) -> str:
    """One table cell: floats with 3 decimals (as ``skynet demo`` prints them)."""
    if isinstance(value, (float, np.floating)):
        return format(float(value), ".3f")
    return "" if value is None else str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as a Markdown (GitHub) table, floats with 3 decimals."""
    if not rows:
        return "(nothing)\n"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    lines += ["| " + " | ".join(_cell(r.get(c)).replace("|", "\\|") for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _html_table(rows: Sequence[Mapping[str, Any]]) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _sections(result: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]], list[str]]]:
    """(title, one-paragraph explanation, table rows, plot paths) of the three evaluations."""
    user, est, ctl = result["user_model"], result["estimation"], result["control"]
    setup = result["setup"]
    return [
        ("User comfort model",
         f"{user['folds']}-fold cross-validation grouped by home ({user['n_rows']} votes of {user['n_devices']} "
         f"homes; each home's votes are scored by a model that never saw that home), against PMV and "
         f"\"always comfy\". Model `{user['model']}` is trained on every vote. Votes are on the 7-point scale "
         f"(-3 cold ... +3 hot): mae, rmse and bias of the estimate; exact_acc, the exact vote; acc_3class and "
         f"f1_3class, cold / comfy / hot.",
         user["table"], user["plots"]),
        ("Estimation model (room temperature and humidity ahead)",
         f"Model `{est['model']}` trained on {est['train_devices']['count']} homes, scored on "
         f"{est['test_devices']['count']} homes it never saw, against persistence and a per-home RC model "
         f"fitted on the first part of each scored home's data. Errors in °C (temperature) and %RH "
         f"(humidity) at each horizon (minutes ahead); rows: forecasts scored.",
         est["table"], est["plots"]),
        ("Control in closed loop",
         f"{setup['control']['devices']} other simulated homes (seed {setup['control']['seed']}) x "
         f"{setup['control']['days']:g} days: skynet's controller with the two models above vs a fixed "
         f"24 °C thermostat vs a comfort-band thermostat "
         f"({setup['control']['comfort_band'][0]:g}-{setup['control']['comfort_band'][1]:g} °C). "
         f"uncomfortable_%: share of occupied minutes with the occupants' mean sensation beyond ±0.5; "
         f"degree-hours outside the band while occupied; AC energy; commands sent to the AC.",
         ctl["table"], ctl["plots"]),
    ]  # fmt: skip


def _intro(result: dict[str, Any]) -> str:
    setup, sim = result["setup"], result["simulate"]
    return (f"Simulated {setup['devices']} homes x {setup['days']:g} days ({setup['climate']}, seed {setup['seed']}): "
            f"{sim['records']['sensor_reading']:,} minute readings, {sim['records']['feedback']:,} comfort votes. "
            f"Stage times (s): " + ", ".join(f"{k} {v:g}" for k, v in result["stages"].items()) + ".")  # fmt: skip


def _markdown(result: dict[str, Any], final: Path) -> str:
    parts = [f"# skynet demo\n\n{_intro(result)}\n"]
    for title, text, rows, plots in _sections(result):
        parts.append(f"## {title}\n\n{text}\n\n{markdown_table(rows)}")
        parts += [f"![{Path(p).stem}]({Path(p).relative_to(final).as_posix()})\n" for p in plots]
    parts.append(f"## Explore\n\nThe demo's records and models: `skynet --config {result['config']} db describe`, "
                 f"`... models list`, `... control decide --device <id>`.\n")  # fmt: skip
    return "\n".join(parts)


_STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em}"
          "td{text-align:right}td:first-child{text-align:left}img{max-width:100%;display:block;margin:1em 0}")  # fmt: skip


def _html(result: dict[str, Any], final: Path) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>skynet demo</title><style>{_STYLE}"
             f"</style></head><body><h1>skynet demo</h1><p>{html.escape(_intro(result))}</p>"]  # fmt: skip
    for title, text, rows, plots in _sections(result):
        parts.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(text)}</p>{_html_table(rows)}")
        parts += [f"<img src='{html.escape(Path(p).relative_to(final).as_posix())}' alt='{html.escape(Path(p).stem)}'>"
                  for p in plots]  # fmt: skip
    parts.append(f"<h2>Explore</h2><p><code>skynet --config {html.escape(result['config'])} models list</code></p>"
                 "</body></html>\n")  # fmt: skip
    return "".join(parts)
