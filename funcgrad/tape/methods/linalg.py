"""Matrix products of `Tensor`: `@`, `matmul`, `mm`, `bmm`, `mv`, `dot`.

PyTorch names the node of `a @ b` after the kernel it picks (MmBackward0, a transposed
product for a matrix times a batch, ...) and words its errors after that kernel too; the
helpers below reproduce its choice from the shapes and which operand requires grad.
"""

from __future__ import annotations

import numpy as np

from .. import errors
from .._base import TensorBase

__all__ = ["LinalgMixin"]


def _product_dtype_error(kind, first, second) -> str:
    """PyTorch's message for a matrix product of two dtypes (first: the matrix, or the
    first operand)."""
    word, cpp = errors.torch_scalar_type, errors.torch_typemeta_name
    if kind == "dot":
        return (
            f"dot : expected both vectors to have same dtype, but found {word(first)} and "
            f"{word(second)}"
        )
    if kind == "mv":
        return (
            f"addmv input tensors must have the same dtype, but got {word(second)}, "
            f"{word(first)}, and {word(second)}"
        )
    if kind == "bmm":
        return f"expected scalar type {word(first)} but found {word(second)}"
    return f"expected m1 and m2 to have the same dtype, but got: {cpp(first)} != {cpp(second)}"


def _matmul_plan(a, b, a_requires_grad, b_requires_grad):
    """How PyTorch's _matmul_impl multiplies tensors of shapes a and b (they decide its
    node name and error text): (a, b, transposed). A 3-D operand with a batch of 1 that
    requires grad is squeezed to a matrix when the batches differ; a matrix or vector a
    times a batch b is computed as (b.mT @ a.T).mT with folded batch dims (`transposed`)
    when a requires grad, or, for a vector, when b is empty or b.mT folds without a copy
    (b.shape[-2] == 1). A batch times a matrix or vector always folds (funcgrad has no
    strides: it takes every tensor as contiguous)."""
    a, b = tuple(a), tuple(b)
    if len(a) == 3 and len(b) == 3 and a[0] != b[0]:
        if a[0] == 1 and a_requires_grad:
            a = a[1:]
        elif b[0] == 1 and b_requires_grad:
            b = b[1:]
    transposed = (
        len(a) <= 2
        and len(b) >= 3
        and (a_requires_grad or (len(a) == 1 and (0 in b or b[-2] == 1)))
    )
    return a, b, transposed


def _matmul_error(a, b, transposed=False) -> str | None:
    """PyTorch's message for `a @ b` with shapes that do not fit (None if they do): from
    mm / mv after folding batch dims into rows (of b.mT when `transposed`), else bmm."""
    a, b = tuple(a), tuple(b)
    if transposed:
        a, b = b[:-2] + (b[-1], b[-2]), tuple(reversed(a))  # (a @ b) = (b.mT @ a.T).mT
    if len(a) == 1 and len(b) == 1:
        if a[0] != b[0]:
            return (
                f"inconsistent tensor size, expected tensor [{a[0]}] and src [{b[0]}] to have "
                f"the same number of elements, but got {a[0]} and {b[0]} elements respectively"
            )
        return None
    if len(b) <= 2:  # mm / mv, folding a's batch dims into rows
        rows = int(np.prod(a[:-1], dtype=np.int64)) if len(a) > 1 else 1
        if len(b) == 1:
            if a[-1] != b[0]:
                return f"size mismatch, got input ({rows}), mat ({rows}x{a[-1]}), vec ({b[0]})"
        elif a[-1] != b[0]:
            return f"mat1 and mat2 shapes cannot be multiplied ({rows}x{a[-1]} and {b[0]}x{b[1]})"
        return None
    a2 = (1,) + a if len(a) == 1 else a  # batched: broadcast the batch dims, then bmm
    batch_a, batch_b = a2[:-2], b[:-2]
    n = max(len(batch_a), len(batch_b))
    for i in range(n - 1, -1, -1):
        off = n - 1 - i
        sa = batch_a[len(batch_a) - 1 - off] if off < len(batch_a) else 1
        sb = batch_b[len(batch_b) - 1 - off] if off < len(batch_b) else 1
        if sa != sb and 1 not in (sa, sb):
            return (
                f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                f"non-singleton dimension {i}"
            )
    if a2[-1] != b[-2]:
        size = int(np.prod(np.broadcast_shapes(batch_a, batch_b), dtype=np.int64))
        return (
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{size}, {a2[-1]}] but got: [{size}, {b[-2]}]."
        )
    return None


def _raise_shape_error_first(a, b, transposed=False) -> None:
    """PyTorch's mm, mv and bmm kernels check shapes before dtypes (dot checks dtypes
    first), so operands wrong in both get the shape message."""
    if len(a) == len(b) == 1:
        return
    message = _matmul_error(a, b, transposed)
    if message is not None:
        raise RuntimeError(message)


class LinalgMixin(TensorBase):
    """Matrix products."""

    __slots__ = ()

    def matmul(self, other):
        other = self._operand(other)
        nd = (self.ndim, other.ndim)
        if 0 in nd:
            raise RuntimeError(
                "both arguments to matmul need to be at least 1D, but they are "
                f"{nd[0]}D and {nd[1]}D"
            )
        # 3D @ 3D is not bmm: PyTorch records UnsafeViewBackward0 for it, as "matmul" does.
        name = {(2, 2): "mm", (1, 1): "dot", (2, 1): "mv", (1, 2): "vm"}.get(nd, "matmul")
        a, b, transposed = _matmul_plan(
            self.shape, other.shape, self.requires_grad, other.requires_grad
        )
        if transposed and len(a) == 2:  # PyTorch: (b.mT @ a.T).mT.contiguous()
            contiguous = 1 in (a[0], b[-1]) or 0 in a or 0 in b
            name = "matmul_t" if contiguous else "matmul_tc"
        if self.dtype != other.dtype:  # PyTorch does not promote in matrix products
            _raise_shape_error_first(a, b, transposed)
            if len(a) == len(b) == 1:
                kind = "dot"
            elif len(b) == 1 or (transposed and len(a) == 1):
                kind = "mv"
            else:
                kind = "mm" if len(b) <= 2 or transposed else "bmm"
            first, second = (other, self) if transposed else (self, other)
            raise RuntimeError(_product_dtype_error(kind, first.dtype, second.dtype))
        try:
            return self._apply(name, self, other)
        except (TypeError, ValueError, RuntimeError) as e:
            message = _matmul_error(a, b, transposed)
            if message is None:
                raise
            raise RuntimeError(message) from e

    def mm(self, other):
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(f"{'self' if self.ndim != 2 else 'mat2'} must be a matrix")
        return self._product("mm", other)

    def bmm(self, other):
        if self.ndim != 3 or other.ndim != 3:
            raise RuntimeError(f"batch{1 if self.ndim != 3 else 2} must be a 3D tensor")
        return self._product("bmm", other)

    def mv(self, vec):
        if self.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got 1, {self.ndim}, {vec.ndim}")
        return self._product("mv", vec)

    def dot(self, other):
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(
                f"1D tensors expected, but got {self.ndim}D and {other.ndim}D tensors"
            )
        return self._product("dot", other)

    def _product(self, name, other):
        if self.dtype != other.dtype:
            _raise_shape_error_first(self.shape, other.shape)
            raise RuntimeError(_product_dtype_error(name, self.dtype, other.dtype))
        try:
            return self._apply(name, self, other)
        except (TypeError, ValueError, RuntimeError) as e:
            message = _matmul_error(self.shape, other.shape)
            if message is None:
                raise
            raise RuntimeError(message) from e
