"""The Predictor contract: skynet's predictors, third-party ones by module:Class and entry point."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from skynet.errors import DataError, ModelError
from skynet.models.predictors import (
    EstimationPredictor,
    Predictor,
    UserModelPredictor,
    predictor_class,
    predictor_names,
)
from skynet.models.user_model import VOTES


class Doubler(Predictor):
    """A third party's predictor: twice the temperature."""

    name = "doubler"
    required_columns = ("temperature",)

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        return inputs["temperature"].to_numpy() * 2


class Dropper(Doubler):
    """A broken predictor: one result row short."""

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        return super().predict(inputs)[:-1]


def test_user_model_predictor_gives_the_models_numbers_row_for_row(user_model, user_sample):
    rows = user_sample.drop(columns=["value"]).iloc[:50]
    result = UserModelPredictor(user_model, model_id="um-1").predict_frame(rows)
    proba = user_model.predict_proba(rows)
    assert len(result) == len(rows)
    np.testing.assert_array_equal(result[[f"p_{int(v)}" for v in VOTES]].to_numpy(), proba)
    np.testing.assert_allclose(result["expected"], user_model.predict(rows))
    np.testing.assert_array_equal(result["median"], user_model.predict_median(rows))
    # identifying columns travel with the results, with one type whatever the input's
    assert list(result["device_id"]) == list(rows["device_id"]) and result["device_id"].dtype == "string"
    assert result["timestamp"].dtype == "datetime64[us]"


def test_estimation_predictor_gives_the_models_forecasts(sample):
    from skynet.models.estimation import SAMPLE_PARAMS, EstimationModel

    data = sample("estimation", n=300)
    model = EstimationModel(**SAMPLE_PARAMS).fit(data)
    result = EstimationPredictor(model).predict_frame(data.iloc[:40])
    expected = model.predict(data.iloc[:40])
    assert list(result.columns[-len(expected.columns) :]) == list(expected.columns)
    np.testing.assert_array_equal(result[expected.columns].to_numpy(), expected.to_numpy())
    assert EstimationPredictor(model).model_id == "estimation"  # no name given: the predictor's


def test_missing_column_is_one_line_naming_it(user_model):
    with pytest.raises(DataError, match=r"rows\.csv lacks the column\(s\) temperature that um needs"):
        UserModelPredictor(user_model, model_id="um").check_columns(
            ["humidity", "device_id"], where="rows.csv"
        )
    with pytest.raises(DataError, match="lacks the column"):
        Doubler().predict_frame(pd.DataFrame({"humidity": [50.0]}))


def test_a_wrapping_predictor_needs_its_model():
    with pytest.raises(ModelError, match="wraps a user_model model"):
        UserModelPredictor()


def test_third_party_predictor_keeps_ids_and_returns_one_row_per_input():
    frame = pd.DataFrame({"id": [7.0, 8.0, np.nan], "temperature": [20.0, 21.0, 22.0], "other": 1})
    result = Doubler().predict_frame(frame)
    assert list(result.columns) == ["id", "prediction"]
    assert list(result["prediction"]) == [40.0, 42.0, 44.0]
    assert result["id"].tolist()[:2] == ["7", "8"] and result["id"].isna().iloc[2]  # not "7.0"
    with pytest.raises(ModelError, match="predicted 2 rows for 3 input rows"):
        Dropper().predict_frame(frame)


def test_bad_timestamp_in_kept_columns_is_a_data_error():
    with pytest.raises(DataError, match="not a time"):
        Doubler().predict_frame(pd.DataFrame({"temperature": [20.0], "timestamp": ["yesterday-ish"]}))


def test_predictor_class_finds_builtin_and_module_class():
    assert predictor_class("user_model") is UserModelPredictor
    assert predictor_class(f"{__name__}:Doubler") is Doubler


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope", r"unknown predictor 'nope' \(known: estimation, user_model"),
        ("skynet.no_such_module:X", "cannot import 'skynet.no_such_module'"),
        ("skynet.errors:Nope", "has no 'Nope'"),
        ("skynet.errors:DataError", "is not a subclass of skynet.models.predictors.Predictor"),
    ],
)
def test_predictor_class_errors_are_one_line(ref, message):
    with pytest.raises(ModelError, match=message):
        predictor_class(ref)


def test_entry_point_plugs_a_predictor_in(tmp_path, monkeypatch):
    """A package declaring ``skynet.predictors`` (a real dist-info on sys.path, no mock)."""
    (tmp_path / "acme_predictors.py").write_text(textwrap.dedent("""
            from skynet.models.predictors import Predictor

            class Acme(Predictor):
                name = "acme"
                def predict(self, inputs):
                    return inputs["temperature"].to_numpy() + 1
            """))
    info = tmp_path / "acme_predictors-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-predictors\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[skynet.predictors]\nacme = acme_predictors:Acme\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert "acme" in predictor_names()
        cls = predictor_class("acme")
        assert cls.__name__ == "Acme"
        assert cls().predict_frame(pd.DataFrame({"temperature": [1.0]}))["prediction"].tolist() == [2.0]
    finally:
        sys.modules.pop("acme_predictors", None)
