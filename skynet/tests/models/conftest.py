"""Model fixtures: every registered model type with its sample data, fitted once per module.

Each model type's package provides ``sample_data(n, seed)`` (a small frame it can learn from)
and ``SAMPLE_PARAMS`` (hyper-parameters that fit it quickly); the shared contract test uses
nothing else.
"""

from __future__ import annotations

import importlib

import pytest

from skynet.models import MODELS, model_class


def model_package(name: str):
    return importlib.import_module(MODELS[name].split(":")[0])


def make_model(name: str, **params):
    package = model_package(name)
    return model_class(name)(**{**getattr(package, "SAMPLE_PARAMS", {}), **params})


def sample(name: str, n: int = 400, seed: int = 0):
    return model_package(name).sample_data(n=n, seed=seed)


@pytest.fixture(name="make_model")
def make_model_fixture():
    """``make_model(type, **params)``: an unfitted model with its quick sample parameters."""
    return make_model


@pytest.fixture(name="sample")
def sample_fixture():
    """``sample(type, n=400, seed=0)``: the sample data of a model type."""
    return sample


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request):
    """(model type, fitted model, its training sample) for every registered model."""
    name = request.param
    data = sample(name)
    return name, make_model(name).fit(data), data


@pytest.fixture(scope="module")
def user_sample():
    from skynet.models.user_model import sample_data

    return sample_data(600, seed=1)


@pytest.fixture(scope="module")
def user_model(user_sample):
    """A UserModel fitted on the sample (shared by the module's tests)."""
    from skynet.models.user_model import SAMPLE_PARAMS, UserModel

    return UserModel(**SAMPLE_PARAMS).fit(user_sample)
