"""``skynet demo`` end to end on a tiny fleet: the printed tables, the report folder, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from skynet.api.demo import STAGES
from skynet.tests.cli.test_root import run_main

#: A tiny demo: enough votes for 5-fold cross-validation of the user model, one control home.
TINY = [
    "demo",
    "--devices",
    "6",
    "--days",
    "2",
    "--seed",
    "3",
    "--control-devices",
    "1",
    "--control-days",
    "0.5",
]


def _numbers(rows: list[dict]) -> list[str]:
    """The float cells of a table as the demo prints them (3 decimals)."""
    return [format(v, ".3f") for row in rows for v in row.values() if isinstance(v, float)]


@pytest.mark.slow
def test_demo_prints_the_three_tables_and_writes_the_report_folder(data_dir, capsys):
    code, out, err = run_main(TINY, capsys)
    assert code == 0, err
    for i, stage in enumerate(STAGES):  # progress: a start and an end line per stage, with elapsed seconds
        assert re.search(rf"\[ *\d+\.\d s\] {i + 1}/{len(STAGES)} {stage} \.\.\.", err), err
        assert re.search(rf"\[ *\d+\.\d s\] {i + 1}/{len(STAGES)} {stage}: ", err), err
    report = Path(re.search(r"^report: (.+) \([\d.]+ s\)$", out, re.M).group(1))
    assert report.parent == data_dir / "reports" and report.name.startswith("demo-")
    assert [p.name for p in report.parent.iterdir()] == [report.name]  # no temporary folder left
    result = json.loads((report / "demo.json").read_text())
    md = (report / "summary.md").read_text()
    page = (report / "summary.html").read_text()

    for section in ("user_model", "estimation", "control"):
        table = result[section]["table"]
        assert table and _numbers(table)
        for number in _numbers(table):
            assert number in out and number in md and number in page, (section, number)
        plots = [Path(p) for p in result[section]["plots"]]
        assert plots and all(p.suffix == ".png" and p.is_file() and p.stat().st_size > 1000 for p in plots)
        for plot in plots:
            assert plot.is_relative_to(report / section)
            link = plot.relative_to(report).as_posix()
            assert f"]({link})" in md and f"src='{link}'" in page
    names = [r["controller"] for r in result["control"]["table"]]
    assert names[:2] == ["fixed 24 °C", "comfort band"] and names[-1] == "skynet"
    assert all(n.startswith("fixed ") for n in names[2:-1])  # the sweep for the best fixed set point
    assert {r["quantity"] for r in result["estimation"]["table"]} == {"temperature", "humidity"}
    assert result["estimation"]["test_devices"]["count"] == 2  # 30 % of 6 homes, never trained on
    assert result["user_model"]["folds"] == 5 and result["user_model"]["n_devices"] >= 5
    # control ran on the models the demo just trained, not on models trained on the side
    models = result["control"]["models"]
    assert models == {"estimator": result["estimation"]["model"], "comfort": result["user_model"]["model"]}
    assert "fallbacks" in result["control"]["decisions"] and result["control"]["decisions"]["count"] > 0

    assert not list((report / "workspace").glob("skynet.db-*"))  # connections closed before the rename
    # the configured record store and model store were left alone: all is in the folder's workspace
    assert sorted(p.name for p in data_dir.iterdir()) == ["reports"]
    code, out, err = run_main(["--config", result["config"], "models", "list", "--format", "json"], capsys)
    assert code == 0, err
    assert sorted(m["name"] for m in json.loads(out)) == sorted(models.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "0"], "devices must be a whole number >= 3, got 0"),
        (["--days", "0"], "days must be > 0, got 0.0"),
        (["--control-devices", "0"], "control_devices must be a whole number >= 1, got 0"),
    ],
)
def test_bad_numbers_are_one_line_errors_and_write_nothing(data_dir, capsys, args, message):
    code, out, err = run_main(["demo", *args], capsys)
    assert code == 1 and out == ""
    assert err == f"Error: {message}\n"
    assert not data_dir.exists()


def test_out_must_not_be_a_file_or_a_folder_with_files(data_dir, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    code, _, err = run_main(["demo", "--out", str(taken)], capsys)
    assert code == 1 and err == f"Error: report folder {taken} is an existing file\n"
    assert taken.read_text() == "mine\n"

    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine\n")
    code, _, err = run_main(["demo", "--out", str(full)], capsys)
    assert code == 1 and err == f"Error: report folder {full} already exists and is not empty\n"
    assert [p.name for p in full.iterdir()] == ["keep.txt"]

    under_file = taken / "report"
    code, _, err = run_main(["demo", "--out", str(under_file)], capsys)
    assert (
        code == 1
        and err.startswith("Error: cannot create the report folder's parent")
        and err.count("\n") == 1
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "taken"]  # data_dir was not even made


def test_a_failing_stage_leaves_no_report_folder(data_dir, tmp_path, capsys):
    """Half an hour of 3 homes gives no votes: the user model stage fails after the simulation
    wrote its workspace, and the half-built folder is removed."""
    out = tmp_path / "reports" / "demo"
    code, stdout, err = run_main(["demo", "--devices", "3", "--days", "0.02", "--out", str(out), "--no-progress"],
                                 capsys)  # fmt: skip
    assert code == 1 and stdout == ""
    assert err.startswith("Error: demo stage 'train user model': ") and "raise devices or days" in err
    assert err.count("\n") == 1
    assert list(out.parent.iterdir()) == []  # neither the folder nor its temporary name
