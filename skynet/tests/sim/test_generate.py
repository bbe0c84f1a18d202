"""``skynet.api.sim.generate``: readings stored while the simulation runs, exactly the simulated
records, and an interrupted run completed by running it again; the simulator's direct PMV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skynet.api import sim as api_sim
from skynet.domain import RECORD_KINDS, SensorReading
from skynet.errors import StorageError
from skynet.sim import simulate_fleet
from skynet.sim._fleet import iso_pmv
from skynet.storage import open_store
from skynet.storage._frames import build_frame, frame_columns
from skynet.storage.sql import SqlStore

RUN = {"devices": 3, "days": 1.5, "seed": 6, "climate": "hot-humid"}


def test_iso_pmv_is_pythermalcomforts_pmv():
    from pythermalcomfort.models import pmv_ppd_iso

    rng = np.random.default_rng(0)
    n = 400
    args = (rng.uniform(10, 40, n), rng.uniform(10, 40, n), rng.uniform(0.1, 0.5, n), rng.uniform(5, 100, n),
            rng.choice([0.8, 1.0, 1.2, 1.6], n), rng.uniform(0.3, 2.6, n))  # fmt: skip
    expected = pmv_ppd_iso(*args, limit_inputs=False, round_output=False).pmv
    np.testing.assert_array_equal(iso_pmv(*args), expected)


def test_readings_handed_over_during_the_run_are_the_results():
    calls = []
    result = simulate_fleet(3, 1.5, seed=2, keep_truth=False,
                            on_readings=lambda first, end, make: calls.append((first, end, make())),
                            readings_rows=3 * 1440)  # fmt: skip
    assert [(first, end) for first, end, _ in calls] == [(0, 1440), (1440, 2160)]
    joined = pd.concat([frame for *_, frame in calls], ignore_index=True)
    joined = joined.sort_values(["device_id", "timestamp"], kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(joined, result.frame(SensorReading))


def stored_frames(settings) -> dict[str, pd.DataFrame]:
    with open_store(settings.path(settings.storage.url)) as store:
        return {name: store.read_frame(kind) for name, kind in RECORD_KINDS.items()}


def as_stored(kind, frame: pd.DataFrame) -> pd.DataFrame:
    """A simulated frame as the store gives it back (its dtypes, sorted by key)."""
    columns = frame_columns(kind, frame)
    return build_frame(kind, columns).sort_values(list(kind.key), ignore_index=True)


@pytest.fixture
def small_batches(monkeypatch):
    """Readings in several writes (and the weather in several frames)."""
    monkeypatch.setattr(api_sim, "_BATCH_ROWS", 2000)


def test_generate_stores_exactly_the_simulated_records(settings, small_batches):
    summary = api_sim.generate(settings, progress=False, **RUN)
    result = simulate_fleet(
        RUN["devices"], RUN["days"], RUN["seed"], climate=RUN["climate"], keep_truth=False
    )
    stored = stored_frames(settings)
    for name, kind in RECORD_KINDS.items():
        expected = as_stored(kind, result.frame(kind))
        pd.testing.assert_frame_equal(stored[name], expected, check_dtype=False, obj=name)
        assert summary["records"][name] == summary["added"][name] == len(expected), name


def test_an_interrupted_generate_is_completed_by_running_it_again(settings, small_batches, monkeypatch):
    write_frame, calls = SqlStore.write_frame, []

    def failing(self, kind, frame):
        calls.append(kind)
        if len(calls) == 2:
            raise StorageError("sql[sqlite]", "disk full (test)")
        return write_frame(self, kind, frame)

    monkeypatch.setattr(SqlStore, "write_frame", failing)
    with pytest.raises(StorageError, match="disk full"):
        api_sim.generate(settings, progress=False, **RUN)
    assert calls == [SensorReading] * 2  # readings written during the run; nothing after the failure
    partial = stored_frames(settings)
    assert len(partial["device"]) == 0 and 0.99 * 3 * 1440 < len(partial["sensor_reading"]) <= 3 * 1440

    monkeypatch.setattr(SqlStore, "write_frame", write_frame)
    summary = api_sim.generate(settings, progress=False, **RUN)
    assert summary["added"]["sensor_reading"] == summary["records"]["sensor_reading"] - len(
        partial["sensor_reading"]
    )
    assert {name: len(frame) for name, frame in stored_frames(settings).items()} == summary["records"]
