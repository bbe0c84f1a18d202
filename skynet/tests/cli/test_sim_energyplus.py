"""``skynet sim generate --engine energyplus`` and the EnergyPlus listings, on SQLite.

Skips without ``pyenergyplus-lbnl`` unless ``CI`` is set (then it must be installed).
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from skynet.config import load_settings
from skynet.domain import RECORD_KINDS
from skynet.storage import open_store

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pyenergyplus") is None and not os.environ.get("CI"),
    reason="pyenergyplus-lbnl is not installed (pip install 'skynet[energyplus]'); with CI set these tests run",
)

ARGS = ["sim", "generate", "--engine", "energyplus", "--building", "office-small", "--weather", "miami",
        "--start", "2025-07-01", "--days", "1", "--timestep", "60", "--seed", "2", "--no-progress"]  # fmt: skip


def _stored(kind: str):
    settings = load_settings(None)
    with open_store(settings.path(settings.storage.url)) as store:
        return store.read_frame(RECORD_KINDS[kind])


def test_energyplus_zones_are_written_to_the_store_once(runner, cli):
    first = runner.invoke(cli, [*ARGS, "--format", "json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["engine"] == "energyplus" and summary["building"] == "office-small"
    assert summary["zones"] == 5 and summary["days"] == 1 and summary["start"] == "2025-07-01 05:00:00"
    assert summary["records"]["sensor_reading"] == 5 * 24 == summary["records"]["weather"]
    for kind, count in summary["records"].items():
        assert summary["added"][kind] == count == len(_stored(kind)), kind
    devices = _stored("device")
    assert devices["device_id"].str.startswith("eplus-office-small-").all()
    assert set(_stored("appliance_state")["origin"]) == {"skynet"}
    # Again, as text and with --end: the same run, nothing new to store.
    again = runner.invoke(
        cli, [*ARGS[:-7], "--end", "2025-07-02", "--timestep", "60", "--seed", "2", "--no-progress"]
    )
    assert again.exit_code == 0, again.output
    assert (
        "EnergyPlus: office-small (5 zones) in miami, 1 days from 2025-07-01 05:00:00 UTC every 60 min"
        in again.stdout
    )
    rows = [
        line.split()
        for line in again.stdout.splitlines()
        if line.split()[:1] and line.split()[0] in summary["records"]
    ]
    assert [(kind, int(records), int(added)) for kind, records, added in rows] == [
        (kind, count, 0) for kind, count in summary["records"].items()
    ]


def test_listings(runner, cli):
    buildings = runner.invoke(cli, ["sim", "buildings", "--format", "json"])
    assert buildings.exit_code == 0, buildings.output
    assert {"apartment-midrise", "office-small"} <= {row["building"] for row in json.loads(buildings.stdout)}
    cities = runner.invoke(cli, ["sim", "weather"])
    assert cities.exit_code == 0 and "miami" in cities.stdout and "Chicago-OHare" in cities.stdout


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--weather", "atlantis"], "unknown weather city 'atlantis'; known: "),
        (["--building", "igloo"], "unknown building 'igloo'; known: "),
        (["--days", "1.5"], "EnergyPlus simulates whole days"),
        (["--building", "BROKEN"], "EnergyPlus failed (exit 1): "),
    ],
)
def test_errors_are_one_line(data_dir, tmp_path, capfd, extra, expected):
    from skynet.cli import main
    from skynet.sim.energyplus._catalog import buildings

    if "BROKEN" in extra:
        broken = tmp_path / "broken.idf"
        text = buildings()["office-small"].path.read_text(encoding="latin-1")
        broken.write_text(text + "\nZone, broken zone, not-a-number;\n", encoding="latin-1")
        extra = ["--building", str(broken)]
    with pytest.raises(SystemExit) as exit_:
        main([*ARGS, *extra])
    assert exit_.value.code == 1
    err = capfd.readouterr().err.strip()  # file-descriptor level: nothing the engine printed leaks
    assert err.startswith(f"Error: {expected}") and len(err.splitlines()) == 1, err
