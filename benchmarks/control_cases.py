"""Run `skynet control evaluate` on the committed evaluation cases and check the issue's aim.

    python benchmarks/control_cases.py [--cases NAME ...] [--seeds 0 1] [--days D] [--json]
    python benchmarks/control_cases.py --holdout          # the final measurement of the held-out pair

The cases are ``benchmarks/control_cases.yml`` (chosen before tuning; read its header). Without
``--holdout`` only the ``tuned: true`` cases run, and a held-out case named with ``--cases`` is
refused: the held-out pair is run once, at the end. ``--days`` shortens the runs (tuning only:
the reported figures use the file's days). Each run is ``skynet.api.control.evaluate`` with the
settings of the environment (``SKYNET_CONFIG`` / ``SKYNET_*``): models trained per case and the
baselines' results are kept under ``{data_dir}/cache``, so a second run re-runs skynet alone.

Per case and seed it prints the controllers' rows and the aim (issue 11): skynet uses at least
10 % less energy than the best fixed set point, no more people uncomfortable than the best
fixed set point and the band thermostat, at least 25 % less energy than 24 °C, and at most 3
commands per home-day for the median home. ``--json`` adds one JSON line per case and seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table  # noqa: E402

CASES = Path(__file__).resolve().parent / "control_cases.yml"
#: The energy proxy calibrated per engine (benchmarks/calibrate_energy.py: the simulator's homes,
#: and EnergyPlus's apartment-midrise in Miami and apartment-midrise-2004 in Phoenix, the tuned
#: buildings). An operator sets these per building type in the control: section.
CALIBRATION = {"builtin": {"kwh_per_kelvin": 0.065, "fan_kw": (0.0, 0.0, 0.0, 0.0)},
               "energyplus": {"kwh_per_kelvin": 0.094, "fan_kw": (0.13, 0.13, 0.13, 0.13)}}  # fmt: skip


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    """The cases of the YAML file."""
    import yaml

    return yaml.safe_load(path.read_text())["cases"]


def run_case(settings: Any, case: dict[str, Any], run: dict[str, Any], days: float | None) -> dict[str, Any]:
    """One case and seed through ``skynet.api.control.evaluate``; its rows and the aim's checks."""
    from dataclasses import replace

    from skynet.api.control import evaluate

    config = replace(settings.control, **CALIBRATION[case["engine"]])
    kwargs: dict[str, Any] = {"days": days or case["days"], "seed": run["seed"], "climate": case["climate"],
                              "engine": case["engine"], "train": "always", "progress": True,
                              "config": config}  # fmt: skip
    if case["engine"] == "energyplus":
        start = run["start"] if isinstance(run["start"], date) else date.fromisoformat(str(run["start"]))
        kwargs.update(building=case["building"], weather=case["weather"], start=start)
    else:
        kwargs.update(devices=case["devices"])
    started = time.perf_counter()
    result = evaluate(settings, **kwargs)
    rows = {r["controller"]: r for r in result["table"]}
    return {"case": case["name"], "tuned": case["tuned"], "seed": run["seed"], "start": str(run.get("start", "")),
            "days": kwargs["days"], "rows": rows, "best_fixed": result["best_fixed"], "report": result["report"],
            "aim": aim(rows, result["best_fixed"]), "seconds": round(time.perf_counter() - started)}  # fmt: skip


def aim(rows: dict[str, dict[str, Any]], best: str | None) -> dict[str, Any]:
    """The issue's aim for skynet against the baselines of one run."""
    sky, band = rows["skynet"], rows["comfort band"]
    out: dict[str, Any] = {
        "energy_vs_24_%": sky["energy_vs_reference_%"],
        "energy_vs_24_ok": sky["energy_vs_reference_%"] <= -25.0,
        "uncomfortable_vs_band_pt": round(sky["uncomfortable_%"] - band["uncomfortable_%"], 1),
        "commands_median_home_day": sky["commands_median_home_day"],
        "commands_ok": (sky["commands_median_home_day"] or 0.0) <= 3.0,
    }
    if best is not None:
        fixed = rows[best]
        out["energy_vs_best_fixed_%"] = sky["energy_vs_best_fixed_%"]
        out["energy_vs_best_fixed_ok"] = sky["energy_vs_best_fixed_%"] <= -10.0
        out["uncomfortable_vs_best_fixed_pt"] = round(sky["uncomfortable_%"] - fixed["uncomfortable_%"], 1)
        out["comfort_ok"] = sky["uncomfortable_%"] <= min(fixed["uncomfortable_%"], band["uncomfortable_%"])
    ok = [v for k, v in out.items() if k.endswith("_ok")]
    out["met"] = bool(ok) and all(ok) and best is not None
    return out


def summary_rows(done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per case, seed and controller (skynet, the best fixed set point, the band, 24 °C)."""
    out = []
    for d in done:
        for name in ("fixed 24 °C", "comfort band", d["best_fixed"], "skynet"):
            if name is None:
                continue
            r = d["rows"][name]
            label = f"best fixed ({name.removeprefix('fixed ')})" if name == d["best_fixed"] else name
            out.append({"case": d["case"], "seed": d["seed"], "controller": label,
                        "uncomfortable_%": r["uncomfortable_%"], "mean_|sensation|": r["mean_abs_sensation"],
                        "degree_h/home-day": r["degree_hours_per_home_day"], "kWh/home-day": r["kwh_per_home_day"],
                        "vs 24 °C %": r["energy_vs_reference_%"], "vs best fixed %": r["energy_vs_best_fixed_%"],
                        "commands/home-day (median home)": f"{r['commands_per_home_day']} "
                                                            f"({r['commands_median_home_day']})"})  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", help="case names (default: every tuned case)")
    parser.add_argument(
        "--holdout", action="store_true", help="run the held-out case(s): the final measurement"
    )
    parser.add_argument("--seeds", nargs="*", type=int, help="only these seeds")
    parser.add_argument("--days", type=float, default=None, help="shorter runs, for tuning only")
    parser.add_argument("--json", action="store_true", help="one JSON line per case and seed")
    args = parser.parse_args()

    from skynet.config import load_settings

    cases = load_cases()
    names = {c["name"] for c in cases}
    unknown = sorted(set(args.cases or ()) - names)
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; known: {', '.join(sorted(names))}")
    chosen = [
        c for c in cases if (args.cases is None or c["name"] in args.cases) and c["tuned"] != args.holdout
    ]
    refused = [c["name"] for c in cases if args.cases and c["name"] in args.cases and not c["tuned"] and
               not args.holdout]  # fmt: skip
    if refused:
        parser.error(
            f"{refused[0]} is the held-out case: it runs only with --holdout, for the final measurement"
        )
    settings = load_settings(None)
    done = []
    for case in chosen:
        for run in case["runs"]:
            if args.seeds is not None and run["seed"] not in args.seeds:
                continue
            print(f"== {case['name']} seed {run['seed']} ({'tuned' if case['tuned'] else 'HELD OUT'})",
                  file=sys.stderr, flush=True)  # fmt: skip
            result = run_case(settings, case, run, args.days)
            done.append(result)
            if args.json:
                print(json.dumps({k: v for k, v in result.items() if k != "rows"}, default=str), flush=True)
    title = "held-out case (never tuned on)" if args.holdout else "tuned cases"
    print_table(f"skynet control evaluate, {title}", summary_rows(done))
    print()
    for d in done:
        a = d["aim"]
        print(f"{d['case']} seed {d['seed']}: aim {'MET' if a['met'] else 'missed'} — " +
              ", ".join(f"{k} {v}" for k, v in a.items() if k != "met"))  # fmt: skip


if __name__ == "__main__":
    main()
