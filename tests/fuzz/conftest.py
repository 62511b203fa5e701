"""Reports how much the fuzz suite ran, at the end of every pytest run that collected it."""

from __future__ import annotations

from .programs import STATS


def pytest_terminal_summary(terminalreporter):
    if not STATS["programs"] and not STATS.get("models"):
        return
    terminalreporter.write_sep("-", "differential fuzzing against PyTorch")
    if STATS["programs"]:
        terminalreporter.write_line(
            f"{STATS['programs']} random tape programs run in torch and in funcgrad.tape: "
            f"{STATS['instructions']} instructions in all ({STATS['tensor_ops']} tensor ops, "
            f"{STATS['backwards']} backward/grad calls, {STATS['errors']} expected errors "
            f"compared), {STATS['mismatches']} mismatches"
        )
    if STATS.get("models"):
        terminalreporter.write_line(
            f"{STATS['models']} random nn models trained in torch, in funcgrad.tape and "
            f"under funcgrad.tape.jit: {STATS['model_steps']} optimizer steps in all"
        )
