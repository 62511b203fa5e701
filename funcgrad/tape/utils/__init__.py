"""`funcgrad.tape.utils`: PyTorch's `torch.utils` subpackages the tape provides (`data`)."""

from . import data as data

__all__ = ["data"]
