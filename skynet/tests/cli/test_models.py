"""``skynet models list/show/convert`` verify each model; predict refuses a corrupt newest model
(issue 10: finding 4, and finding 9's "a corrupt newest model is listed as healthy by `models
list` and silently skipped by predict in favour of an older one")."""

from __future__ import annotations

import json

import joblib
import pytest
import yaml

from skynet.models._base import sha256_file
from skynet.tests.cli.test_root import run_main


@pytest.fixture(scope="module")
def user_models():
    """Two small user models fitted on different samples (so they get different names)."""
    from skynet.models.user_model import SAMPLE_PARAMS, UserModel, sample_data

    return [UserModel(**SAMPLE_PARAMS).fit(sample_data(200, seed=seed)) for seed in (1, 2)]


def _set(path, **changes):
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, **changes}))


@pytest.fixture
def store(settings, data_dir, user_models):
    """(models folder, older name, newer name): two sound user models a day apart."""
    from skynet.api.models import register_trained

    older, newer = (register_trained(settings, model, {"mae": 0.5}) for model in user_models)
    root = data_dir / "models"
    _set(root / older, created="2026-01-01T00:00:00Z")
    _set(root / newer, created="2026-01-02T00:00:00Z")
    return root, older, newer


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _cut_manifest(path, tmp_path):
    (path / "manifest.json").write_text((path / "manifest.json").read_text()[:40])


def _flip_artifact(path, tmp_path):
    blob = bytearray((path / "model.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (path / "model.npz").write_bytes(bytes(blob))


def _drop_artifact(path, tmp_path):
    (path / "model.npz").unlink()


def _drop_manifest(path, tmp_path):
    (path / "manifest.json").unlink()


def _pickle_payload(path, tmp_path):
    """The issue's attack: a ``__reduce__`` payload with the manifest's sha256 made to match."""
    joblib.dump(Payload(tmp_path / "pwned"), path / "model.npz")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["artifact"]["sha256"] = sha256_file(path / "model.npz")
    (path / "manifest.json").write_text(json.dumps(manifest))


CORRUPTIONS = {
    "manifest cut short": (_cut_manifest, "manifest.json is unreadable"),
    "manifest gone": (_drop_manifest, "manifest.json is missing"),
    "artifact damaged": (_flip_artifact, "model.npz is corrupt: sha256"),
    "artifact gone": (_drop_artifact, "model.npz is missing"),
    "pickle payload": (_pickle_payload, "model.npz is unreadable: it is not a zip archive"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_models_list_and_show_mark_a_corrupt_model(store, runner, cli, tmp_path, corruption):
    root, older, newer = store
    corrupt, problem = CORRUPTIONS[corruption]
    corrupt(root / newer, tmp_path)

    listed = runner.invoke(cli, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:5] == ["name", "type", "created", "n_rows", "status"]
    status = {line.split()[0]: line for line in lines[2:]}
    assert " corrupt" in status[newer] and " ok" in status[older]
    assert f"{newer}: corrupt: " in listed.stderr and problem in listed.stderr
    rows = json.loads(runner.invoke(cli, ["models", "list", "--format", "json"]).stdout)
    assert [(r["name"], r["status"]) for r in rows] == [(newer, "corrupt"), (older, "ok")]
    assert problem in rows[0]["problem"] and rows[1]["problem"] is None

    shown = runner.invoke(cli, ["models", "show", newer])
    assert shown.exit_code == 0, shown.output
    manifest = yaml.safe_load(shown.stdout)
    assert manifest["name"] == newer and manifest["status"] == "corrupt" and problem in manifest["problem"]
    sound = json.loads(runner.invoke(cli, ["models", "show", older, "--format", "json"]).stdout)
    assert sound["status"] == "ok" and sound["problem"] is None and sound["model_type"] == "user_model"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_predict_refuses_a_corrupt_newest_model_in_one_line(store, capsys, tmp_path, corruption):
    """Never the older model instead: the user learns which model is broken."""
    root, older, newer = store
    CORRUPTIONS[corruption][0](root / newer, tmp_path)
    code, out, err = run_main(["user_model", "predict", "--temperature", "25", "--format", "json"], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"Error: the newest user_model model, {newer}, cannot be used: ")
    assert CORRUPTIONS[corruption][1] in err and older not in err
    args = ["user_model", "predict", "--temperature", "25", "--model", older, "--format", "json"]
    code, out, err = run_main(args, capsys)
    assert code == 0, err
    assert json.loads(out)["model"] == older
    assert not (tmp_path / "pwned").exists()


def test_estimation_load_refuses_a_corrupt_newest_model(settings, data_dir):
    from skynet.api.estimation import load
    from skynet.api.models import register_trained
    from skynet.errors import ModelError
    from skynet.models.estimation import SAMPLE_PARAMS, EstimationModel, sample_data

    names = [register_trained(settings, EstimationModel(**SAMPLE_PARAMS).fit(sample_data(200, seed=s)), {})
             for s in (1, 2)]  # fmt: skip
    _set(data_dir / "models" / names[0], created="2026-01-01T00:00:00Z")
    _set(data_dir / "models" / names[1], created="2026-01-02T00:00:00Z")
    assert load(settings)[0] == names[1]
    _cut_manifest(data_dir / "models" / names[1], None)
    with pytest.raises(ModelError, match=f"the newest estimation model, {names[1]}, cannot be used"):
        load(settings)
    assert load(settings, names[0])[0] == names[0]


def test_an_old_pickle_model_is_listed_refused_and_converted_on_request(
    store, runner, cli, capsys, user_models
):
    root, older, newer = store
    path = root / newer
    (path / "model.npz").unlink()
    joblib.dump(user_models[1], path / "model.joblib", compress=3)
    _set(path, format=1, artifact={"file": "model.joblib", "sha256": sha256_file(path / "model.joblib")})

    rows = json.loads(runner.invoke(cli, ["models", "list", "--format", "json"]).stdout)
    assert rows[0]["name"] == newer and rows[0]["status"] == "old-format"
    code, _, err = run_main(["user_model", "predict", "--temperature", "25"], capsys)
    assert code == 1 and f"`skynet models convert {newer} --trust-pickle`" in err

    refused = runner.invoke(cli, ["models", "convert", newer])
    assert refused.exit_code != 0 and "pass --trust-pickle only for a model whose origin you trust" in str(
        refused.exception
    )
    assert (path / "model.joblib").exists()  # nothing read, nothing changed

    converted = runner.invoke(cli, ["models", "convert", newer, "--trust-pickle"])
    assert converted.exit_code == 0, converted.output
    assert f"{newer}: converted to model.npz (status ok)" in converted.stdout
    assert sorted(p.name for p in path.iterdir()) == ["manifest.json", "model.npz"]
    code, out, err = run_main(["user_model", "predict", "--temperature", "25", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["model"] == newer
