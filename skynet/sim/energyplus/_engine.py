"""Run EnergyPlus through its Python API with skynet driving every zone's thermostat.

The engine runs in this process (``pyenergyplus.api.EnergyPlusAPI``), one fresh state per
run, console output muted, its files in a temporary directory removed afterwards. Two
runtime callbacks do the work:

- at the start of each system timestep, before the predictor, the zone's ``Zone Temperature
  Control`` heating and cooling set point actuators get the command of the current zone
  timestep (during warm-up days, the command of the same time of day on the first day);
- at the end of each zone timestep, after reporting, the zone mean air temperature, mean
  radiant temperature and relative humidity, the zone's sensible heating and cooling
  delivered by the air system, and the outdoor dry bulb and relative humidity are read;
  in closed loop (``on_step``), a controller then sees them and sets the next timestep's
  set points.

Sizing runs on the design days first, with the constant set points of the rewritten IDF
(21 °C heating / 24 °C cooling in :mod:`._idf`) so equipment is sized as in the prototype.

The engine's own console output (a line or two even when muted) goes to ``console.log`` in
the run directory. A failure comes back as :class:`~skynet.sim.energyplus._catalog.EnergyPlusError` with the
first ``** Severe`` (or ``** Fatal``) line of ``eplusout.err``.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from skynet.sim.energyplus._catalog import INSTALL_HINT, EnergyPlusError
from skynet.sim.energyplus._schedule import Commands

__all__ = ["run_engine", "EngineOutput", "ZONE_VARIABLES", "SITE_VARIABLES"]

#: Zone output variables read each timestep, by the name used in the output arrays.
ZONE_VARIABLES = {
    "temperature": "Zone Mean Air Temperature",
    "humidity": "Zone Air Relative Humidity",
    "cooling_w": "Zone Air System Sensible Cooling Rate",
    "heating_w": "Zone Air System Sensible Heating Rate",
    "radiant_temperature": "Zone Mean Radiant Temperature",
}
#: Site output variables read each timestep.
SITE_VARIABLES = {
    "outdoor_temperature": "Site Outdoor Air Drybulb Temperature",
    "outdoor_humidity": "Site Outdoor Air Relative Humidity",
}
_RUN_PERIOD = 3  # kind_of_sim of a weather-file run period
_LOCK = threading.Lock()  # one EnergyPlus run at a time per process
_API = None

Progress = Callable[[str, int, int], None]


@dataclass
class EngineOutput:
    """What a run read: arrays of (timesteps, zones) or (timesteps,) for the site."""

    zone: dict[str, np.ndarray]
    site: dict[str, np.ndarray]
    steps: int
    warnings: int = 0
    err_excerpt: list[str] = field(default_factory=list)


def _api():
    """The process's EnergyPlusAPI (loading the engine library once)."""
    global _API
    if _API is None:
        try:
            from pyenergyplus.api import EnergyPlusAPI
        except ImportError:
            raise EnergyPlusError(f"EnergyPlus is not installed: {INSTALL_HINT}") from None
        try:
            _API = EnergyPlusAPI()
        except OSError as exc:
            raise EnergyPlusError(f"cannot load the EnergyPlus engine library: {exc}") from None
    return _API


#: Closed loop: ``on_step(k, zone, site)`` after zone timestep ``k`` is read (``zone``: name ->
#: values per zone, ``site``: name -> value); it returns the (heating, cooling) set points of
#: every zone from timestep ``k + 1`` on, or None to keep them.
StepHook = Callable[[int, dict[str, np.ndarray], dict[str, float]], "tuple[np.ndarray, np.ndarray] | None"]


def run_engine(idf_text: str, epw: Path, zones: list[str], commands: Commands, steps_per_day: int,
               progress: Progress | None = None, keep_dir: Path | None = None,
               on_step: StepHook | None = None) -> EngineOutput:  # fmt: skip
    """Simulate ``idf_text`` (prepared by :func:`._idf.prepare_idf`) under ``commands``.

    Args:
        idf_text: the prepared IDF.
        epw: the weather file.
        zones: the controlled zones, in the commands' column order.
        commands: one thermostat command per (timestep, zone).
        steps_per_day: zone timesteps per day.
        progress: called as ``progress("simulate", minutes_done, minutes_total)`` once per day.
        keep_dir: run there and keep the files (for debugging); default a temporary directory.
        on_step: closed loop (see :data:`StepHook`): ``commands`` then only give the
            set points of the first timestep (and of the warm-up days); the hook's answers
            replace the rest.

    Raises:
        EnergyPlusError: EnergyPlus is missing or failed; the message has the first severe error.
    """
    api = _api()
    with _LOCK, tempfile.TemporaryDirectory(prefix="skynet-eplus-") as tmp:
        out_dir = Path(keep_dir) if keep_dir is not None else Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        idf_path = out_dir / "in.idf"
        idf_path.write_text(idf_text, encoding="latin-1", errors="replace")
        state = api.state_manager.new_state()
        try:
            with _Quiet(out_dir / "console.log") as quiet:
                run = _Run(api, state, zones, commands, steps_per_day, progress, quiet, on_step)
                api.runtime.set_console_output_status(state, False)
                run.register()
                code = api.runtime.run_energyplus(state, ["-w", str(epw), "-d", str(out_dir), str(idf_path)])
        finally:
            api.state_manager.delete_state(state)
            api.runtime.clear_callbacks()  # the API keeps every callback (and our arrays) alive otherwise
        if run.error is not None:
            raise run.error
        if code != 0:
            raise EnergyPlusError(
                f"EnergyPlus failed (exit {code}): {first_severe(out_dir / 'eplusout.err')}"
            )
        if run.k != commands.power.shape[0]:
            raise EnergyPlusError(
                f"EnergyPlus simulated {run.k} zone timesteps, expected {commands.power.shape[0]} "
                f"(see {out_dir / 'eplusout.err'}: {first_severe(out_dir / 'eplusout.err')})"
            )
        return EngineOutput(
            run.zone_out, run.site_out, run.k, warnings=_count_warnings(out_dir / "eplusout.err")
        )


class _Run:
    """The callbacks of one run and the arrays they fill."""

    def __init__(self, api, state, zones: list[str], commands: Commands, steps_per_day: int,
                 progress: Progress | None, quiet: _Quiet, on_step: StepHook | None = None) -> None:  # fmt: skip
        self.api, self.state, self.zones, self.quiet, self.on_step = api, state, zones, quiet, on_step
        self.heat = commands.heating_setpoint.astype(float)
        self.cool = commands.cooling_setpoint.astype(float)
        self.steps, self.per_day = commands.power.shape[0], steps_per_day
        self.minutes_per_step = 1440 // steps_per_day
        self.progress = progress
        self.k = 0  # zone timesteps of the run period recorded so far
        self.handles: dict[str, list[int]] | None = None
        self.error: Exception | None = None
        n = len(zones)
        self.zone_out = {name: np.full((self.steps, n), np.nan) for name in ZONE_VARIABLES}
        self.site_out = {name: np.full(self.steps, np.nan) for name in SITE_VARIABLES}

    def register(self) -> None:
        ex, rt, state = self.api.exchange, self.api.runtime, self.state
        for variable in ZONE_VARIABLES.values():
            for zone in self.zones:
                ex.request_variable(state, variable, zone)
        for variable in SITE_VARIABLES.values():
            ex.request_variable(state, variable, "Environment")
        rt.callback_begin_system_timestep_before_predictor(state, self._guard(self._actuate))
        rt.callback_end_zone_timestep_after_zone_reporting(state, self._guard(self._record))

    def _guard(self, fn: Callable[[object], None]) -> Callable[[object], None]:
        # An exception must not unwind through the engine's C++ frames: keep it, stop the run.
        def callback(state: object) -> None:
            if self.error is not None:
                return
            try:
                fn(state)
            except Exception as exc:  # noqa: BLE001 - re-raised after the run
                self.error = (
                    exc if isinstance(exc, EnergyPlusError) else EnergyPlusError(f"skynet callback: {exc!r}")
                )
                self.api.runtime.stop_simulation(state)

        return callback

    def _ready(self, state) -> bool:
        ex = self.api.exchange
        if not ex.api_data_fully_ready(state):
            return False
        if self.handles is None:
            self.handles = self._find_handles(state)
        return True

    def _find_handles(self, state) -> dict[str, list[int]]:
        ex = self.api.exchange
        handles: dict[str, list[int]] = {}
        for name, variable in ZONE_VARIABLES.items():
            handles[name] = [ex.get_variable_handle(state, variable, zone) for zone in self.zones]
        for name, variable in SITE_VARIABLES.items():
            handles[name] = [ex.get_variable_handle(state, variable, "Environment")]
        handles["heat_sp"] = [
            ex.get_actuator_handle(state, "Zone Temperature Control", "Heating Setpoint", z)
            for z in self.zones
        ]
        handles["cool_sp"] = [
            ex.get_actuator_handle(state, "Zone Temperature Control", "Cooling Setpoint", z)
            for z in self.zones
        ]
        for name, found in handles.items():
            if -1 in found:
                zone = self.zones[found.index(-1)] if len(found) == len(self.zones) else "Environment"
                what = ZONE_VARIABLES.get(name) or SITE_VARIABLES.get(name) or f"the {name} actuator"
                raise EnergyPlusError(f"EnergyPlus has no {what} for zone {zone!r}")
        return handles

    def _step_index(self, state) -> int | None:
        """The zone timestep whose command applies now (None during sizing)."""
        ex = self.api.exchange
        if ex.kind_of_sim(state) != _RUN_PERIOD:
            return None
        if ex.warmup_flag(state):
            # Warm-up repeats the first day: give it the first day's commands by time of day.
            per_hour = self.per_day // 24
            step = ex.hour(state) * per_hour + ex.zone_time_step_number(state) - 1
            return min(max(step, 0), self.per_day - 1, self.steps - 1)
        return min(self.k, self.steps - 1)

    def _actuate(self, state) -> None:
        if not self._ready(state):
            return
        k = self._step_index(state)
        if k is None:
            return
        ex, h = self.api.exchange, self.handles
        assert h is not None
        for z in range(len(self.zones)):
            ex.set_actuator_value(state, h["heat_sp"][z], self.heat[k, z])
            ex.set_actuator_value(state, h["cool_sp"][z], self.cool[k, z])

    def _record(self, state) -> None:
        ex = self.api.exchange
        if not self._ready(state) or ex.kind_of_sim(state) != _RUN_PERIOD or ex.warmup_flag(state):
            return
        if self.k >= self.steps:
            raise EnergyPlusError(f"EnergyPlus ran past the {self.steps} expected zone timesteps")
        h, k = self.handles, self.k
        assert h is not None
        for name, out in self.zone_out.items():
            out[k] = [ex.get_variable_value(state, handle) for handle in h[name]]
        for name, out in self.site_out.items():
            out[k] = ex.get_variable_value(state, h[name][0])
        if self.on_step is not None:
            self._step_hook(k)
        self.k += 1
        if self.progress is not None and (self.k % self.per_day == 0 or self.k == self.steps):
            with self.quiet.lifted():
                self.progress("simulate", self.k * self.minutes_per_step, self.steps * self.minutes_per_step)

    def _step_hook(self, k: int) -> None:
        """Closed loop: the controller sees timestep ``k`` and sets the next one's set points."""
        assert self.on_step is not None
        with self.quiet.lifted():  # the controller's progress bar and log lines reach the console
            answer = self.on_step(
                k, {name: out[k] for name, out in self.zone_out.items()},
                {name: float(out[k]) for name, out in self.site_out.items()},
            )  # fmt: skip
        if k + 1 >= self.steps:
            return
        if answer is None:
            answer = self.heat[k], self.cool[k]
        heat, cool = (np.asarray(a, dtype=float) for a in answer)
        if heat.shape != (len(self.zones),) or cool.shape != (len(self.zones),):
            raise EnergyPlusError(f"the controller answered set points of shape {heat.shape}, {cool.shape}")
        self.heat[k + 1], self.cool[k + 1] = heat, cool


class _Quiet:
    """Send the process's stdout and stderr (file descriptors 1 and 2) to a file for a run.

    The engine writes a few lines to the console even with its console output off (e.g.
    "Program terminated" on a failure); a user error must stay one line. :meth:`lifted`
    restores the console for a moment, for the progress bar.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved: list[int] = []
        self.log = -1

    def __enter__(self) -> _Quiet:
        _flush()
        self.log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.saved = [os.dup(1), os.dup(2)]
        except OSError:  # no console to guard (a daemon with closed descriptors): leave it alone
            self.saved = []
        self._divert()
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()
        for fd in (*self.saved, self.log):
            os.close(fd)

    @contextmanager
    def lifted(self) -> Iterator[None]:
        """Let output through to the real console inside the block."""
        self._restore()
        try:
            yield
        finally:
            self._divert()

    def _divert(self) -> None:
        if self.saved:
            _flush()
            os.dup2(self.log, 1)
            os.dup2(self.log, 2)

    def _restore(self) -> None:
        if self.saved:
            _flush()
            os.dup2(self.saved[0], 1)
            os.dup2(self.saved[1], 2)


def _flush() -> None:
    """Flush Python's and the C library's buffered output before file descriptors move."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(AttributeError, ValueError, OSError):
            stream.flush()
    with suppress(OSError, AttributeError):
        _libc().fflush(None)


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    """The process's C library (loaded once: the closed loop flushes around every minute)."""
    return ctypes.CDLL(None)


def first_severe(err_file: Path) -> str:
    """The first ``** Severe`` or ``** Fatal`` message of an ``eplusout.err`` file, on one line."""
    try:
        lines = err_file.read_text(encoding="latin-1").splitlines()
    except OSError:
        return f"no error file at {err_file}"
    for i, line in enumerate(lines):
        text = line.strip()
        if text.startswith("** Severe") or text.startswith("**  Fatal"):
            message = text.split("**", 2)[-1].strip()
            # Continuation lines ("**   ~~~   **") often name the object at fault.
            for extra in lines[i + 1 : i + 3]:
                if "~~~" in extra:
                    message += " " + extra.split("~~~", 1)[1].strip(" *")
            return " ".join(message.split())
    return "no severe error in eplusout.err"


def _count_warnings(err_file: Path) -> int:
    try:
        return sum(
            1 for line in err_file.read_text(encoding="latin-1").splitlines() if "** Warning **" in line
        )
    except OSError:
        return 0
