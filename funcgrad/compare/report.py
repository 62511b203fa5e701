"""The result of a comparison: `Report`, its JSON (schema in SCHEMA.md and schema.json),
its tables as text or markdown, and its verdict.

A report is plain data (a dict that `json.dump` writes as is) wrapped in a small class with
the ways to show it. It measures nothing (that is `measure.py`); the plot is `plot.py`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import jax

import funcgrad

from .plot import plot_report

__all__ = [
    "SCHEMA_VERSION",
    "SCHEMA_PATH",
    "current_device",
    "environment",
    "Report",
    "seconds",
    "nbytes",
]

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schema.json")


def current_device():
    """The device JAX computes on: `jax_default_device` when set, else JAX's default."""
    return jax.config.jax_default_device or jax.devices()[0]


def environment(device) -> dict:
    """Versions, machine and load: what a reader needs to weigh the times."""
    torch = sys.modules.get("torch")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "funcgrad": funcgrad.__version__,
        "jax": jax.__version__,
        "jaxlib": metadata.version("jaxlib"),
        "torch": getattr(torch, "__version__", None),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "device": {"platform": device.platform, "kind": device.device_kind},
        "load_average_1min": None if load is None else round(load, 2),
    }


class Report:
    """What `funcgrad compare` and `compare_model` found: agreement, time and memory.

    Attributes:
      data: the report as JSON-ready data (see `funcgrad/compare/SCHEMA.md`).
    """

    def __init__(self, cases: list, options: dict, device, tool: str):
        now = datetime.datetime.now(datetime.UTC)
        self.data = {
            "schema_version": SCHEMA_VERSION,
            "tool": tool,
            "created": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "environment": environment(device),
            "options": options,
            "cases": cases,
        }
        self.data["passed"] = self.passed

    @property
    def passed(self) -> bool:
        """True when no paradigm failed to run and every gradient agreed (PASS)."""
        records = [p for case in self.data["cases"] for p in case["paradigms"]]
        return all(
            p["status"] != "error" and (p["agreement"] is None or p["agreement"]["passed"])
            for p in records
        )

    def to_json(self, path: str | None = None) -> str:
        """The report as JSON text; written to `path` too when given."""
        text = json.dumps(self.data, indent=2) + "\n"
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            Path(path).write_text(text)
        return text

    def tables(self, markdown: bool = False) -> str:
        """One table per case, as aligned text or as markdown to paste into a report."""
        env = self.data["environment"]
        opts = self.data["options"]
        head = (
            f"funcgrad compare: {self.data['created']}, {env['machine']}, JAX device "
            f"{env['device']['platform']} ({env['device']['kind']}), load average "
            f"{env['load_average_1min']}; jax {env['jax']}, torch {env['torch']}; "
            f"medians of {opts['repeats']} timed rounds (warm-up steps: {opts['warmup']})"
        )
        parts = [head]
        for case in self.data["cases"]:
            parts.append(_case_table(case, markdown))
        verdict = "all PASS" if self.passed else "some FAIL or error (see above)"
        parts.append(f"verdict: {verdict}")
        return "\n\n".join(parts) + "\n"

    def markdown(self) -> str:
        return self.tables(markdown=True)

    def __str__(self) -> str:
        return self.tables()

    def plot(self, path: str) -> None:
        """Writes a PNG: time per step and retained-graph bytes, per paradigm and case."""
        plot_report(self.data, path)


# ---------------------------------------------------------------- formatting
def seconds(s: float | None) -> str:
    """'12.3 ms'-style: three significant digits in a unit that suits."""
    if s is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale or unit == "us":
            return f"{s / scale:.3g} {unit}"
    return f"{s:.3g} s"


def nbytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _agreement_cells(p: dict) -> list[str]:
    a = p["agreement"]
    if a is None:
        return ["", ""]
    known = [q for q in a["params"] if q["max_abs_error"] is not None]
    worst_abs = max((q["max_abs_error"] for q in known), default=0.0)
    worst_rel = max((q["max_rel_error"] for q in known), default=0.0)
    failed = [q["name"] for q in a["params"] if not q["passed"]]
    verdict = "PASS" if a["passed"] else "FAIL: " + ", ".join(failed)
    return [f"{worst_abs:.2g} / {worst_rel:.2g}", verdict]


def _row(p: dict) -> list[str]:
    if p["status"] != "ok":
        return [p["label"], f"{p['status']}: {p['reason']}"] + [""] * 7
    t, m = p["time"], p["memory"]
    retained = nbytes(m["retained_graph_bytes"])
    if m["retained_graph_bytes"] is None:
        retained = "n/a (in XLA)" if "XLA" in (m.get("retained_graph_note") or "") else "n/a"
    return [
        p["label"],
        *_agreement_cells(p),
        f"{p['final_loss']:.6g}" if p["final_loss"] is not None else "n/a",
        f"{seconds(t['median_s'])} ({seconds(t['q1_s'])}-{seconds(t['q3_s'])})",
        f"{seconds(t['first_grads_s'])} / {seconds(t['first_step_s'])}",
        f"{t['ratio_to_fastest']:.2f}x",
        retained,
        nbytes(m["device_peak_bytes"]),
    ]


HEADER = [
    "paradigm",
    "grads: max abs / rel err",
    "agreement",
    "final loss",
    "step: median (IQR)",
    "1st call: grads / step",
    "vs fastest",
    "retained graph",
    "device peak",
]


def _case_table(case: dict, markdown: bool) -> str:
    units = {}
    for p in case["paradigms"]:
        if p["unit"]:
            units.setdefault(p["unit"], []).append(p["label"])
    tol = case["tolerance"]
    tol_text = f"rtol {tol['rtol']:g}, atol {tol['atol']:g}" + (
        f" + {tol['atol_of_max']:g} x max|reference|" if tol.get("atol_of_max") else ""
    )
    title = [f"{case['name']}: gradients against {case['reference']} at {tol_text}"]
    title += [f"  one step ({', '.join(labels)}): {unit}" for unit, labels in units.items()]
    rows = [_row(p) for p in case["paradigms"]]
    if markdown:
        lines = [f"**{case['name']}**", ""] + [f"- {line.strip()}" for line in title[1:]] + [""]
        lines.append("| " + " | ".join(HEADER) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(HEADER) - 1)) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(lines)
    measured = [r for r in rows if not r[1].startswith(("unavailable:", "error:"))]
    widths = [max(len(r[i]) for r in [HEADER, *measured]) for i in range(len(HEADER))]
    lines = title + [""]
    for r in [HEADER, *rows]:
        if r[1].startswith(("unavailable:", "error:")):
            lines.append(f"  {r[0]:<{widths[0]}}  {r[1]}")
        else:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join(lines)
