"""Weight and activation layouts between PyTorch and Flax, for arrays of any library.

=================  ============================  ===========================
what               PyTorch / tape                Flax (linen)
=================  ============================  ===========================
activations        NCHW                          NHWC
conv kernel        OIHW  (out, in, kh, kw)       HWIO  (kh, kw, in, out)
linear weight      (out, in), y = x W^T + b      kernel (in, out), y = x K + b
linear after a     columns in C, H, W order      rows in H, W, C order
conv flatten
=================  ============================  ===========================

Each function takes numpy, jax or torch arrays, or `funcgrad.tape` tensors, and returns the
same kind (on tape tensors they are differentiable ops): it only transposes and reshapes.
Both paradigms of an example use them, so they live outside the tape; converting a whole
tape module to Flax variables is `funcgrad.tape.nn.convert.to_flax`.
"""

from __future__ import annotations

__all__ = [
    "hwio_to_oihw",
    "kernel_to_linear",
    "linear_to_kernel",
    "nchw_to_nhwc",
    "nhwc_to_nchw",
    "oihw_to_hwio",
]


def _permute(x, axes):
    return x.permute(*axes) if hasattr(x, "permute") else x.transpose(axes)


def nchw_to_nhwc(x):
    """(N, C, H, W) -> (N, H, W, C). Example: `nchw_to_nhwc(np.zeros((2, 3, 4, 5))).shape`
    is (2, 4, 5, 3)."""
    return _permute(x, (0, 2, 3, 1))


def nhwc_to_nchw(x):
    """(N, H, W, C) -> (N, C, H, W)."""
    return _permute(x, (0, 3, 1, 2))


def oihw_to_hwio(w):
    """A PyTorch conv weight (out, in, kh, kw) -> a Flax conv kernel (kh, kw, in, out).

    Example:
        >>> import numpy as np
        >>> from funcgrad import convert
        >>> convert.oihw_to_hwio(np.zeros((8, 3, 5, 4))).shape
        (5, 4, 3, 8)
    """
    return _permute(w, (2, 3, 1, 0))


def hwio_to_oihw(k):
    """A Flax conv kernel (kh, kw, in, out) -> a PyTorch conv weight (out, in, kh, kw)."""
    return _permute(k, (3, 2, 0, 1))


def linear_to_kernel(w, input_chw: tuple[int, int, int] | None = None):
    """A PyTorch linear weight (out, in) -> a Flax Dense kernel (in, out).

    Args:
      w: the weight.
      input_chw: Optional. (C, H, W) when the layer reads a flattened conv feature map:
        PyTorch flattens NCHW in (C, H, W) order, Flax flattens NHWC in (H, W, C) order, so
        the input rows are permuted too.

    Example:
        >>> import numpy as np
        >>> from funcgrad import convert
        >>> convert.linear_to_kernel(np.zeros((10, 2 * 3 * 3)), input_chw=(2, 3, 3)).shape
        (18, 10)
    """
    if input_chw is None:
        return _permute(w, (1, 0))
    c, h, wd = input_chw
    out = w.shape[0]
    return _permute(w.reshape((out, c, h, wd)), (2, 3, 1, 0)).reshape((h * wd * c, out))


def kernel_to_linear(k, input_chw: tuple[int, int, int] | None = None):
    """A Flax Dense kernel (in, out) -> a PyTorch linear weight (out, in); the inverse of
    `linear_to_kernel` (same `input_chw`)."""
    if input_chw is None:
        return _permute(k, (1, 0))
    c, h, wd = input_chw
    out = k.shape[1]
    return _permute(k.reshape((h, wd, c, out)), (3, 2, 0, 1)).reshape((out, c * h * wd))
