"""`funcgrad compare`: the paradigms side by side, in numbers (and pictures).

For each example (or your own model, through `compare_model`) and each paradigm (PyTorch
eager, the tape eager and under `jit`, functional JAX, and any other form an example has):
whether the first-step gradients agree, how long a step takes, and how many bytes a
retained graph keeps. The command line is `funcgrad compare` (`python -m funcgrad compare`);
the report's JSON schema is `SCHEMA.md` beside this file.
"""

from .model import compare_model as compare_model
from .report import SCHEMA_VERSION as SCHEMA_VERSION, Report as Report

__all__ = ["compare_model", "SCHEMA_VERSION", "Report"]
