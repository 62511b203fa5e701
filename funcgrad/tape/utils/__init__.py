"""`funcgrad.tape.utils`: PyTorch's `torch.utils` subpackages the tape provides (`data`,
`checkpoint`)."""

from . import checkpoint as checkpoint, data as data

__all__ = ["checkpoint", "data"]
