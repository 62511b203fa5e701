"""The report as a picture: time per step and retained-graph bytes, per paradigm and case.

matplotlib is optional for funcgrad: it is imported when a plot is asked for, and its
absence is a clear error then.
"""

from __future__ import annotations

import os

__all__ = ["NO_MATPLOTLIB", "plot_report"]

NO_MATPLOTLIB = (
    "funcgrad compare --plot needs matplotlib, which is not installed ({error}).\n"
    "[funcgrad] pip install matplotlib (or pip install -e '.[compare]'), or leave out --plot."
)
COLORS = {"pytorch": "#ee4c2c", "torch_func": "#f4a261", "tape": "#457b9d",
          "tape_func": "#8ecae6", "tape_jit": "#1d3557", "functional": "#2a9d8f"}  # fmt: skip


def plot_report(data: dict, path: str) -> None:
    """Writes a PNG with two panels: median step time and retained-graph bytes (log scales)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(NO_MATPLOTLIB.format(error=error)) from error
    cases = data["cases"]
    labels = {}
    for case in cases:
        for p in case["paradigms"]:
            labels.setdefault(p["id"], p["label"])
    fig = Figure(figsize=(max(6.0, 1.9 * len(cases) + 2), 7.5), dpi=110)
    FigureCanvasAgg(fig)
    time_ax, memory_ax = fig.subplots(2, 1)
    width = 0.8 / max(len(labels), 1)
    for k, (pid, label) in enumerate(labels.items()):
        xs, times, lows, highs, mxs, memory = [], [], [], [], [], []
        for i, case in enumerate(cases):
            p = next((q for q in case["paradigms"] if q["id"] == pid and q["status"] == "ok"), None)
            if p is None:
                continue
            t = p["time"]
            xs.append(i + (k - (len(labels) - 1) / 2) * width)
            times.append(t["median_s"] * 1e3)
            lows.append((t["median_s"] - t["q1_s"]) * 1e3)
            highs.append((t["q3_s"] - t["median_s"]) * 1e3)
            if p["memory"]["retained_graph_bytes"]:
                mxs.append(xs[-1])
                memory.append(p["memory"]["retained_graph_bytes"])
        color = COLORS.get(pid)
        time_ax.bar(xs, times, width, yerr=[lows, highs], label=label, color=color, capsize=2)
        memory_ax.bar(mxs, memory, width, label=label, color=color)
    titles = ("time per step, median and quartiles (ms, log scale)",
              "bytes a retained graph keeps (log scale; n/a not drawn)")  # fmt: skip
    for ax, title in zip((time_ax, memory_ax), titles):
        ax.set_title(title, fontsize=10)
        ax.set_yscale("log")
        ax.set_xticks(range(len(cases)), [c["name"] for c in cases], fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    time_ax.legend(fontsize=8, ncol=3)
    env = data["environment"]
    fig.suptitle(f"funcgrad compare, {env['device']['platform']} ({env['device']['kind']}), "
                 f"{data['created']}, load average {env['load_average_1min']}",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path)
