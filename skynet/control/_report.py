"""Plots of a closed-loop evaluation: a few days of a few homes under each controller.

One PNG per plotted home, two panels sharing the time axis: the room's true temperature under
each controller with its set point (dashed; gaps while the AC is off) and the outdoor
temperature, then the occupants' mean thermal sensation (gaps while nobody is home) with the
±0.5 comfort zone shaded. Files are written atomically (temporary name, then renamed).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import numpy as np

from skynet.control._evaluate import Evaluation

__all__ = ["plot_homes"]

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def plot_homes(evaluation: Evaluation, folder: str | os.PathLike[str], days: float = 3.0) -> list[Path]:
    """Write ``<folder>/home-<device>.png`` for each plotted home; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from skynet.control._evaluate import TRACE_STEP

    samples = int(min(evaluation.minutes, round(days * 1440)) - 1) // TRACE_STEP + 1
    index = np.arange(samples)
    times = [evaluation.start + timedelta(minutes=int(k) * TRACE_STEP) for k in index]
    columns = {d: i for i, d in enumerate(evaluation.device_ids)}
    paths = []
    for device in evaluation.plotted:
        j = columns[device]
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True, height_ratios=(3, 2))
        first = evaluation.results[0].traces
        top.plot(times, first["outdoor_temperature"][index, j], color="0.6", lw=1, label="outdoor")
        for color, result in zip(_COLORS, evaluation.results, strict=False):
            tr = result.traces
            top.plot(times, tr["temperature"][index, j], color=color, lw=1.2, label=f"{result.name}: room")
            top.plot(
                times,
                tr["set_temperature"][index, j],
                color=color,
                lw=0.9,
                ls="--",
                label=f"{result.name}: set point",
            )
            bottom.plot(times, tr["sensation"][index, j], color=color, lw=1.0, label=result.name)
        low, high = evaluation.band
        top.axhspan(low, high, color="0.93", zorder=0)
        top.set_ylabel("°C")
        top.set_title(f"{device}: room temperature and set point (comfort band {low:g}–{high:g} °C shaded)")
        top.legend(loc="upper left", fontsize=7, ncol=3)
        bottom.axhspan(-0.5, 0.5, color="#e5f5e0", zorder=0)
        bottom.axhline(0.0, color="0.5", lw=0.6)
        bottom.set_ylabel("thermal sensation")
        bottom.set_title("occupants' mean sensation (PMV + personal offset; gaps: nobody home)")
        bottom.legend(loc="upper left", fontsize=7, ncol=len(evaluation.results))
        bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
        fig.autofmt_xdate()
        fig.tight_layout()
        path = folder / f"home-{device}.png"
        tmp = folder / f".{path.name}.tmp"
        fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
        os.replace(tmp, path)
        paths.append(path)
    return paths
