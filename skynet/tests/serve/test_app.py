"""The REST service over real registered models: the answers are the CLI's, bad input is a 4xx
naming the field (never a 5xx), the size and time limits, readiness, metrics, the schema."""

from __future__ import annotations

import json

import pytest

from skynet.api import estimation, user_model
from skynet.api.serving import ServedModels

ROW = {"temperature": 26.0, "humidity": 50.0, "clothing": 0.5, "metabolic_rate": 1.1, "air_speed": 0.1}
STATE = {"temperature": 28.0, "humidity": 60.0, "temperature_lag5": 27.8, "outdoor_temperature": 33.0,
         "outdoor_humidity": 70.0, "hour": 14.0, "power": True, "mode": "cool", "set_temperature": 26.0,
         "fan": "auto", "ac_minutes": 20.0}  # fmt: skip


def test_comfort_answers_are_the_cli_functions(client, served_settings, trained_home):
    answer = client.post("/v1/user_model/predict", json={"rows": [ROW, {**ROW, "temperature": 29.0}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == trained_home["user_model"]  # user_model@production, not the newer spare
    name, rows = user_model.predict(served_settings, conditions=ROW)
    assert name == body["model"]
    assert body["rows"][0] == pytest.approx(rows[0])
    assert sum(body["rows"][1][f"p_{v}"] for v in range(-3, 4)) == pytest.approx(1.0)
    assert body["rows"][1]["expected"] > body["rows"][0]["expected"]  # warmer feels warmer


def test_the_fast_path_gives_the_frame_paths_answers_and_errors(client, served_settings):
    from skynet.api.serving import predict_comfort
    from skynet.errors import DataError

    served = client.app.state.served
    rows = [ROW, {"temperature": 31.0}, {"temperature": 18.0, "clothing": 1.2, "outdoor_temperature": -5.0}]
    fast = predict_comfort(served_settings, served, rows)["rows"]  # anonymous numbers: the fast path
    _, framed = user_model.predict(served_settings, conditions=rows)  # a value some rows leave out is unknown
    assert len(fast) == 3 and all(a == pytest.approx(b) for a, b in zip(fast, framed, strict=True))
    for bad in ([ROW, {"temperature": 500.0}], [{"humidity": 40.0}], [{"temperature": float("nan")}], [{"temperature": float("inf")}],
                [ROW, {"temperature": True}]):  # fmt: skip
        with pytest.raises(DataError) as fast_error:
            predict_comfort(served_settings, served, bad)
        with pytest.raises(DataError) as frame_error:
            user_model.predict(served_settings, conditions=bad)
        assert str(fast_error.value) == str(frame_error.value)


def test_a_device_seen_in_training_is_personalized(client, served_settings):
    plain = client.post("/v1/user_model/predict", json={"rows": [ROW]}).json()["rows"][0]
    offsets = ServedModels(served_settings)
    offsets.refresh()
    learned = offsets.get("user_model").model.personal_["devices"]  # device -> (offset, slope, votes)
    device = max(learned, key=lambda d: abs(learned[d][0]))
    own = client.post("/v1/user_model/predict", json={"rows": [ROW], "device_id": device}).json()["rows"][0]
    assert own["device_id"] == device and own["offset"] == pytest.approx(learned[device][0]) != 0
    assert own["expected"] != pytest.approx(plain["expected"])
    _, rows = user_model.predict(served_settings, device, conditions=ROW)
    assert own == pytest.approx(rows[0])


def test_forecasts_are_the_cli_functions(client, served_settings, trained_home):
    body = {
        "state": STATE,
        "commands": ["cool:24:auto", {"power": False}, {"mode": "heat", "set_temperature": 20}],
    }
    answer = client.post("/v1/estimation/predict", json=body)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["model"] == trained_home["estimation"]  # no alias: the newest
    assert [row["command"] for row in found["rows"]] == ["cool:24:auto", "off", "heat:20:auto"]
    expected = estimation.predict(served_settings, None, ["cool:24:auto", {"power": False},
                                  {"mode": "heat", "set_temperature": 20}], state=STATE)  # fmt: skip
    assert found["rows"] == expected["rows"]  # floats survive JSON exactly
    keep = client.post("/v1/estimation/predict", json={"state": STATE}).json()["rows"]
    assert [row["command"] for row in keep] == ["cool:26:auto"]  # no command: the AC in force


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("/v1/user_model/predict", {"rows": [{"temperature": 500}]}, "rows[0].temperature", "less than or equal to 50"),
        ("/v1/user_model/predict", {"rows": [{**ROW, "metabolic_rate": 0}]}, "rows[0].metabolic_rate", "0.6"),
        ("/v1/user_model/predict", {"rows": [{"humidity": 50}]}, "rows[0].temperature", "Field required"),
        ("/v1/user_model/predict", {"rows": [{**ROW, "wind": 3}]}, "rows[0].wind", "Extra inputs"),
        ("/v1/user_model/predict", {"rows": []}, "rows", "at least 1"),
        ("/v1/user_model/predict", {"rows": [{"temperature": "warm"}]}, "rows[0].temperature", "valid number"),
        ("/v1/estimation/predict", {"state": {k: v for k, v in STATE.items() if k != "hour"}}, "state.hour",
         "Field required"),
        ("/v1/estimation/predict", {"state": STATE, "commands": [{"mode": "blast"}]}, "commands[0]", ""),
        ("/v1/estimation/predict", {"state": STATE, "commands": [{"set_temperature": 90}]}, "commands[0]", ""),
        ("/v1/control/decide", {"device_id": "d1", "readings": []}, "readings", "at least 1"),
        ("/v1/control/decide", {"device_id": "d1", "readings": [{"temperature": 99}]}, "readings[0].temperature",
         "70"),
    ],
)  # fmt: skip
def test_bad_input_is_a_422_naming_the_field(client, path, body, field, words):
    answer = client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["field"].startswith(field) and error["error"].startswith(field) and words in error["error"]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/v1/estimation/predict", {"state": STATE, "commands": ["cool:99"]}, "command 'cool:99': set_temperature 99.0 is outside 8 … 32"),
        ("/v1/estimation/predict", {"device_id": "nowhere"}, "device 'nowhere' is not in the store"),
        ("/v1/estimation/predict", {"commands": ["off"]}, "give the room's state"),
        ("/v1/estimation/predict", {"state": {**STATE, "mode": None}}, "mode None is not one of"),
        ("/v1/control/decide", {"device_id": "d1", "readings": [{"temperature": 25}], "target":
                                {"mode": "temperature", "value": 90}}, "target: target event: a temperature target"),
        ("/v1/control/decide", {"device_id": "d1", "readings": [{"temperature": 25}], "device":
                                {"timezone": "Mars/Base"}}, "device: timezone 'Mars/Base' is not a known time zone"),
        ("/v1/control/decide", {"device_id": "d1", "readings": [{"temperature": 25, "time": "2999-01-01T00:00"}]},
         "readings[0]: time 2999-01-01T00:00:00"),
        ("/v1/control/decide", {"device_id": "d1", "readings": [{"temperature": 25}], "state": {"x": 1}},
         "stored state is not readable"),
    ],
)  # fmt: skip
def test_bad_values_the_functions_refuse_are_a_422_with_their_line(client, path, body, words):
    answer = client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["error"]


def test_malformed_json_and_nan_are_422(client):
    broken = client.post(
        "/v1/user_model/predict", content=b'{"rows": [', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["field"]
    nan = client.post("/v1/user_model/predict", content=b'{"rows": [{"temperature": NaN}]}',
                      headers={"content-type": "application/json"})  # fmt: skip
    assert nan.status_code == 422 and nan.json()["field"] == "rows[0].temperature"


def test_a_context_gets_the_decision_the_worker_makes(client, served_settings):
    from skynet.api.worker import run_worker
    from skynet.worker import make_event

    context = {
        "device_id": "d7",
        "device": {"time": "2025-07-01T00:00:00", "timezone": "Asia/Tokyo"},
        "appliance": {"time": "2025-07-01T10:00:00", "power": False},
        "weather": {"time": "2025-07-01T11:55:00", "temperature": 33.0, "humidity": 70.0},
        "target": {"time": "2025-07-01T09:00:00", "mode": "comfort"},
        "readings": [{"time": "2025-07-01T12:00:00", "temperature": 29.5, "humidity": 62.0}],
    }
    answer = client.post("/v1/control/decide", json=context)
    assert answer.status_code == 200, answer.text
    decided = answer.json()["decision"]
    assert (
        decided["device_id"] == "d7" and decided["command"]["power"] is True and decided["fallback"] is None
    )

    # the embedded worker, fed the same events with the service's models, decides the same
    lines = [make_event("d7", kind, time=_time(fields.pop("time")), **fields) for kind, fields in (
        ("device", dict(context["device"])), ("appliance", dict(context["appliance"])),
        ("weather", dict(context["weather"])), ("target", dict(context["target"])),
        ("reading", dict(context["readings"][0])))]  # fmt: skip
    import io

    commands: list[str] = []
    served = client.app.state.served
    run_worker(served_settings, embedded=True, events=io.StringIO("\n".join(lines) + "\n"),
               controller=served.controller(), on_command=commands.append)  # fmt: skip
    (command,) = [json.loads(c) for c in commands]
    assert {k: command[k] for k in ("power", "mode", "set_temperature", "fan")} == {
        k: decided["command"][k] for k in ("power", "mode", "set_temperature", "fan")
    }


def _time(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_the_returned_state_carries_the_safety_rules(client):
    first = client.post("/v1/control/decide", json={
        "device_id": "d8", "target": {"time": "2025-07-01T09:00:00", "mode": "temperature", "value": 22},
        "readings": [{"time": "2025-07-01T12:00:00", "temperature": 29.0, "humidity": 60.0}]}).json()  # fmt: skip
    assert first["decision"]["command"]["power"] is True
    # two minutes later the target says off: the compressor's minimum run time keeps it on
    later = client.post("/v1/control/decide", json={
        "device_id": "d8", "state": first["state"], "target": {"time": "2025-07-01T12:01:00", "mode": "off"},
        "readings": [{"time": "2025-07-01T12:02:00", "temperature": 28.5, "humidity": 60.0}]}).json()  # fmt: skip
    assert later["decision"]["command"] is None and "safety" in json.dumps(later["decision"]["reason"])
    fresh = client.post("/v1/control/decide", json={
        "device_id": "d8", "target": {"time": "2025-07-01T12:01:00", "mode": "off"},
        "readings": [{"time": "2025-07-01T12:02:00", "temperature": 28.5, "humidity": 60.0}]}).json()  # fmt: skip
    assert fresh["decision"]["command"] is None or fresh["decision"]["command"]["power"] is False


def test_readiness_liveness_metrics_and_the_schema(client, trained_home):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    models = ready.json()["models"]
    assert models["user_model"]["name"] == trained_home["user_model"] and ready.json()["store"] == "ok"
    assert client.get("/livez").json() == {"status": "alive"}
    client.post("/v1/user_model/predict", json={"rows": [ROW]})
    client.post("/v1/user_model/predict", json={"rows": []})
    text = client.get("/metrics").text
    assert 'skynet_serve_requests_total{route="/v1/user_model/predict",status="200"} 1.0' in text
    assert 'skynet_serve_requests_total{route="/v1/user_model/predict",status="422"} 1.0' in text
    assert (
        f'skynet_serve_model_info{{model_type="user_model",name="{trained_home["user_model"]}"}} 1.0' in text
    )
    schema = client.get("/openapi.json").json()
    assert {"/v1/user_model/predict", "/v1/estimation/predict", "/v1/control/decide", "/readyz"} <= set(
        schema["paths"]
    )
    row = schema["components"]["schemas"]["ComfortRow"]["properties"]["temperature"]
    assert (row["minimum"], row["maximum"]) == (0.0, 50.0)  # PREDICT_RANGES in the schema
    assert "swagger" in client.get("/docs").text.lower()


def test_not_ready_without_models(tmp_path):
    from fastapi.testclient import TestClient

    from skynet.serve import create_app
    from skynet.tests.serve.conftest import home_settings

    with TestClient(create_app(home_settings(tmp_path / "empty"), reload_interval=0)) as empty:
        answer = empty.get("/readyz")
        assert answer.status_code == 503 and answer.json()["ready"] is False
        assert "no user_model model in the registry" in answer.json()["models"]["user_model"]["problem"]
        predict = empty.post("/v1/user_model/predict", json={"rows": [ROW]})
        assert predict.status_code == 503 and "no user_model model to answer with" in predict.json()["error"]
        assert empty.get("/livez").status_code == 200


def test_the_body_size_limit_is_a_413(served_settings):
    from fastapi.testclient import TestClient

    from skynet.serve import create_app

    with TestClient(create_app(served_settings, reload_interval=0, max_body=2_000)) as small:
        big = {"rows": [ROW] * 100}
        declared = small.post("/v1/user_model/predict", json=big)
        assert declared.status_code == 413 and "at most 2,000" in declared.json()["error"]

        def chunks():  # no Content-Length: read up to the limit
            data = json.dumps(big).encode()
            for i in range(0, len(data), 500):
                yield data[i : i + 500]

        streamed = small.post(
            "/v1/user_model/predict", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413 and "over 2,000 bytes" in streamed.json()["error"]
        assert small.post("/v1/user_model/predict", json={"rows": [ROW]}).status_code == 200


def test_a_request_over_its_time_is_a_504(served_settings):
    from fastapi.testclient import TestClient

    from skynet.serve import create_app

    with TestClient(create_app(served_settings, reload_interval=0, timeout=0.001)) as hurried:
        answer = hurried.post("/v1/user_model/predict", json={"rows": [ROW] * 5_000})
        assert answer.status_code == 504 and "no answer within 0.001 s" in answer.json()["error"]
