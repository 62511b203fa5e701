"""PyTorch's channel-wise dropout modules: `Dropout1d`, `Dropout2d`, `Dropout3d` (whole
channels zeroed with probability p in training, the rest scaled by 1 / (1 - p); the
identity in eval). The mask comes from the tape's generator, so it is reproducible under
`manual_seed` but not PyTorch's bits.

Example:
    >>> import funcgrad.tape as torch
    >>> d = torch.nn.Dropout2d(0.5)
    >>> d
    Dropout2d(p=0.5, inplace=False)
    >>> d.eval()(torch.ones(1, 2, 3, 3)).sum().item()
    18.0
"""

from __future__ import annotations

from . import functional as F
from .layers import Dropout

__all__ = ["Dropout1d", "Dropout2d", "Dropout3d"]


class Dropout1d(Dropout):
    """Zeroes whole channels of (N, C, L) or (C, L) input."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) input (a DCGAN discriminator's dropout)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(Dropout):
    """Zeroes whole channels of (N, C, D, H, W) input."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)
