"""The nightly batch-prediction DAG of inventory.yml: its command, with Airflow's templates
rendered for one interval, runs against a store and predicts that day's readings (twice: a
retry of the interval replaces its rows)."""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timedelta

import pandas as pd
import pytest

from skynet.deploy import load_inventory
from skynet.domain import SensorReading
from skynet.tests.cli.test_root import run_main
from skynet.tests.deploy.conftest import REPO


@pytest.fixture
def saved_user_model(settings) -> str:
    """A small user model in this test's model store; its name."""
    from skynet.api.models import register_trained
    from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data

    return register_trained(settings, UserModel(**SAMPLE_PARAMS).fit(sample_data(300, seed=1)), {})


def _rendered(command: str, start: str, end: str) -> list[str]:
    """The task's arguments as bash would pass them once Airflow rendered its templates."""
    values = {"data_interval_start": start, "data_interval_end": end}
    text = re.sub(r"\{\{\s*(\w+)\s*\|\s*ds\s*\}\}", lambda m: values[m[1]], command)
    assert "{{" not in text, text
    return shlex.split(text)


def test_batch_dag_predicts_the_days_readings_into_the_store(settings, saved_user_model, capsys):
    inventory = load_inventory(REPO / "inventory.yml", environ={})
    dag = inventory.dags["train"]["user_model_batch_prediction"]
    assert dag.schedule == "0 4 * * *" and [t.id for t in dag.tasks] == ["predict_user_model"]
    from skynet.api._context import open_records

    day = datetime(2027, 1, 5)
    readings = [SensorReading(f"dev-{d}", day + timedelta(hours=h - 2), 20.0 + h / 4, 50.0)
                for d in range(3) for h in range(28)]  # fmt: skip
    with open_records(settings) as store:
        store.write(readings)
    args = _rendered(dag.tasks[0].command, "2027-01-05", "2027-01-06")
    for _ in range(2):  # a retry of the same interval
        code, out, err = run_main(args, capsys)
        assert code == 0, err
    assert f"request {saved_user_model}-2027-01-05: 72 rows" in out  # 24 h x 3 devices, not the day around
    from skynet.api._context import records_url
    from skynet.storage.batch._sql import _engine

    table = pd.read_sql("SELECT * FROM user_model_predictions", _engine(records_url(settings)))
    assert len(table) == 72 and table["row_id"].is_unique
    assert pd.to_datetime(table["timestamp"]).between("2027-01-05", "2027-01-06", inclusive="left").all()
