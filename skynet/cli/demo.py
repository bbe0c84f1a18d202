"""``skynet demo``: simulate a small fleet, train and evaluate both models and control, write a report."""

from __future__ import annotations

import sys

import click

from skynet.cli.options import echo_json, echo_table, output_format, settings

__all__ = ["demo"]

#: As skynet.api.demo.DEFAULTS (kept here so `skynet demo --help` imports nothing heavy). The
#: numbers are checked by run_demo, so a bad one is one line (SkynetError), not a usage screen.
_DEFAULTS = {"devices": 50, "days": 7.0, "control_devices": 4, "control_days": 2.0}


@click.command("demo")
@click.option("--devices", default=_DEFAULTS["devices"], show_default=True, type=int,
              help="Simulated homes the models learn from and are scored on (at least 3).")  # fmt: skip
@click.option("--days", default=_DEFAULTS["days"], show_default=True, type=float,
              help="Days those homes are simulated.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of everything.")
@click.option("--out", type=click.Path(), default=None,
              help="Report folder to create [default: <models.reports>/demo-<UTC time>].")  # fmt: skip
@click.option("--control-devices", default=_DEFAULTS["control_devices"], show_default=True, type=int,
              help="Other simulated homes control is evaluated on.")  # fmt: skip
@click.option("--control-days", default=_DEFAULTS["control_days"], show_default=True, type=float,
              help="Days of the control evaluation.")  # fmt: skip
@click.option(
    "--progress/--no-progress", default=True, help="Show stage lines (and bars on a terminal) on stderr."
)
@output_format
def demo(devices: int, days: float, seed: int, out: str | None, control_devices: int, control_days: float,
         progress: bool, fmt: str) -> None:  # fmt: skip
    """Simulate homes, train and evaluate the user model, the estimation model and control; write a report.

    Needs no server and leaves the configured stores alone: the demo's records and models live
    in the report folder's own workspace. Prints the three evaluation tables and the folder.
    """
    from skynet.api.demo import STAGES, run_demo

    def stage(index: int, name: str, note: str | None, elapsed: float) -> None:
        step = f"[{elapsed:5.1f} s] {index + 1}/{len(STAGES)} {name}"
        click.echo(f"{step} ..." if note is None else f"{step}: {note}", err=True)

    bars = progress and sys.stderr.isatty()  # the stage lines alone where stderr is a log
    result = run_demo(settings(), devices, days, seed, out, control_devices, control_days,
                      progress=stage if progress else None, bars=bars)  # fmt: skip
    if fmt == "json":
        return echo_json(result)
    user, est, ctl = result["user_model"], result["estimation"], result["control"]
    click.echo(f"\nuser comfort model: {user['folds']}-fold cross-validation by home, {user['n_rows']} votes "
               f"of {user['n_devices']} homes")  # fmt: skip
    echo_table(user["table"])
    click.echo(f"\nestimation: trained on {est['train_devices']['count']} homes, scored on "
               f"{est['test_devices']['count']} unseen homes")  # fmt: skip
    echo_table(est["table"])
    setup = result["setup"]["control"]
    click.echo(f"\ncontrol in closed loop: {setup['devices']} other homes x {setup['days']:g} days")
    echo_table(ctl["table"])
    click.echo(f"\nreport: {result['report']} ({result['seconds']} s)")
