"""Runs a PyTorch program of this folder with real PyTorch, or unchanged with
`funcgrad.tape` standing in for `torch`, and reports what it printed and what it raised.

Usage: python retain_graph_runner.py {torch|funcgrad} PROGRAM.py [program arguments]

With `funcgrad`, the modules a PyTorch program imports (`torch`, `torch.nn`,
`torch.nn.functional`, `torch.optim`) are funcgrad's while the program runs, so its
`import torch` lines stay as they are. An exception ends the program as it would, and is
reported after a RAISED line (its type, then its message) instead of as a traceback.
`run_program` does the same in the calling process (the tests use it: funcgrad's compiled
ops are then shared between programs).
"""

import contextlib
import io
import runpy
import sys

RAISED = "---- raised ----"
_TORCH_MODULES = ("torch", "torch.nn", "torch.nn.functional", "torch.optim")


@contextlib.contextmanager
def _funcgrad_as_torch():
    import funcgrad.tape as tape

    stand_ins = dict(zip(_TORCH_MODULES, (tape, tape.nn, tape.nn.functional, tape.optim)))
    saved = {name: sys.modules.get(name) for name in _TORCH_MODULES}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def run_program(lib: str, program: str, args=()) -> str:
    """Runs `program` as __main__ with `lib` ("torch" or "funcgrad") as torch; returns its
    output, and after a RAISED line the type and message of what it raised."""
    out, argv = io.StringIO(), sys.argv
    stand_in = _funcgrad_as_torch() if lib == "funcgrad" else contextlib.nullcontext()
    with stand_in, contextlib.redirect_stdout(out):
        sys.argv = [program, *args]
        try:
            runpy.run_path(program, run_name="__main__")
        except Exception as e:  # noqa: BLE001 - the program's exception is what is compared
            print(f"{RAISED}\n{type(e).__name__}\n{e}")
        finally:
            sys.argv = argv
    return out.getvalue()


if __name__ == "__main__":
    print(run_program(sys.argv[1], sys.argv[2], sys.argv[3:]), end="")
