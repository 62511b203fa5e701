"""The op table's entries that rearrange and index: registered into `OPS` on import.

Same rules as ops.py: one entry per differentiable op naming a JAX function, backward is
`jax.vjp` of it, `saves` follows PyTorch's saved tensors, node names are PyTorch's. It
holds triangles and diagonals (tril, triu, diagonal, diag_embed), shifts and windows
(roll, rot90, unfold), splits that copy (PyTorch's unsafe_split of RNN gates) or name
their sizes (split_with_sizes), index-driven reads and writes (index_select, scatter,
scatter_add, index_add, index_fill, index_copy, take, masked_select), and PyTorch's
in-place reshapes (unsqueeze_, squeeze_, t_, transpose_). The methods are in
`methods/arrange.py`.

What it does not do: find positions that depend on values (masked_select's, nonzero's);
the methods find them on the host and an entry here only gathers from them.
"""

from __future__ import annotations

import jax.numpy as jnp

from ._op import S, register

__all__ = []

# ---------------------------------------------------------------- triangles, diagonals, shifts
register("tril", lambda x, diagonal=0: jnp.tril(x, diagonal), "TrilBackward0", sample=S((3, 4)))
register(
    "triu",
    lambda x, diagonal=0: jnp.triu(x, diagonal),
    "TriuBackward0",
    sample=S((3, 4), diagonal=1),
)
# torch.diag of a matrix is a copy of its diagonal, named so by PyTorch.
register(
    "diagonal_copy",
    lambda x, offset=0: jnp.diagonal(x, offset),
    "DiagonalBackward0_copy",
    sample=S((3, 4), offset=-1),
)


def _diag_embed(x, offset=0, dim1=-2, dim2=-1):
    n = x.shape[-1] + abs(offset)
    rows = jnp.arange(x.shape[-1]) + max(-offset, 0)
    cols = jnp.arange(x.shape[-1]) + max(offset, 0)
    out = jnp.zeros(x.shape[:-1] + (n, n), x.dtype).at[..., rows, cols].set(x)
    return jnp.moveaxis(out, (-2, -1), (dim1, dim2))


register("diag_embed", _diag_embed, "DiagEmbedBackward0", sample=S((2, 3), offset=1))
register(
    "roll",
    lambda x, shifts, dims: jnp.roll(x, shifts, dims),
    "RollBackward0",
    sample=S((3, 4), shifts=(1, -2), dims=(0, 1)),
)
register(
    "rot90",
    lambda x, k=1, dims=(0, 1): jnp.rot90(x, k, dims),
    "Rot90Backward0",
    sample=S((3, 4)),
)


def _unfold(x, dimension, size, step):
    """Windows of `size` along `dimension`, every `step`, as a new last dim."""
    n = (x.shape[dimension] - size) // step + 1
    starts = jnp.arange(n) * step
    idx = starts[:, None] + jnp.arange(size)[None, :]
    windows = jnp.take(x, idx, axis=dimension)  # (..., n, size, ...)
    return jnp.moveaxis(windows, dimension + 1, -1)


register(
    "unfold",
    _unfold,
    "UnfoldBackward0",
    view=True,
    sample=S((3, 7), dimension=1, size=3, step=2),
)


# ---------------------------------------------------------------- splitting
def _split_sections(x, sections, dim):
    return tuple(jnp.split(x, sections, dim))


# chunk / split of PyTorch's RNN cells: copies, not views (unsafe_split).
register(
    "unsafe_split",
    _split_sections,
    "UnsafeSplitBackward0",
    multi=True,
    sample=S((6, 2), sections=(2, 4), dim=0),
)


# ---------------------------------------------------------------- index-driven reads and writes
def _index_grid(index, dim):
    """Full coordinates for scatter/gather along `dim`: index replaces that axis."""
    grid = list(jnp.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


def _scatter(x, index, src, dim):
    src = src[tuple(slice(0, s) for s in index.shape)]
    return x.at[_index_grid(index, dim)].set(src)


def _scatter_value(x, index, dim, value):
    return x.at[_index_grid(index, dim)].set(jnp.asarray(value, x.dtype))


def _scatter_add(x, index, src, dim):
    src = src[tuple(slice(0, s) for s in index.shape)]
    return x.at[_index_grid(index, dim)].add(src)


def _index_along(dim, index, ndim):
    return (slice(None),) * dim + (index,) + (slice(None),) * (ndim - dim - 1)


register(
    "index_select",
    lambda x, index, dim: jnp.take(x, index, axis=dim),
    "IndexSelectBackward0",
    (1,),
    sample=S((3, 5), ("int", (4,), 5), dim=1),
)
register(
    "scatter",
    _scatter,
    "ScatterBackward0",
    (1,),
    sample=S((3, 5), ("int", (3, 1), 5), (3, 2), dim=1),
)
register(
    "scatter_value",
    _scatter_value,
    "ScatterBackward1",
    (1,),
    sample=S((3, 5), ("int", (1, 4), 3), dim=0, value=2.0),
)
register(
    "scatter_add",
    _scatter_add,
    "ScatterAddBackward0",
    (1,),
    sample=S((3, 5), ("int", (3, 2), 5), (3, 2), dim=1),
)
register(
    "index_add",
    lambda x, index, source, dim, alpha=1: x.at[_index_along(dim, index, x.ndim)].add(
        alpha * source
    ),
    "IndexAddBackward0",
    (1,),
    sample=S((4, 3), ("int", (2,), 4), (2, 3), dim=0, alpha=2.0),
)
register(
    "index_fill",
    lambda x, index, dim, value: x.at[_index_along(dim, index, x.ndim)].set(value),
    "IndexFillBackward0",
    (1,),
    sample=S((3, 4), ("int", (2,), 4), dim=1, value=0.5),
)
register(
    "index_copy",
    lambda x, index, source, dim: x.at[_index_along(dim, index, x.ndim)].set(source),
    "IndexCopyBackward0",
    (1,),
    sample=S((4, 3), ("int", (2,), 4), (2, 3), dim=0),
)
register(
    "take",
    lambda x, index: jnp.take(jnp.ravel(x), index),
    "TakeBackward0",
    "all",
    sample=S((3, 4), ("int", (5,), 12)),
)
# masked_select: the positions are found on the host (a data-dependent count); the op
# reads them from the broadcast input.
register(
    "masked_select",
    lambda x, mask, positions, shape: jnp.ravel(jnp.broadcast_to(x, shape))[positions],
    "MaskedSelectBackward0",
    "all",
    sample=S((3, 4), ("bool", (3, 4)), ("int", (5,), 12), shape=(3, 4)),
)

# ---------------------------------------------------------------- shapes changed in place
# x.unsqueeze_(0), x.t_(), ...: the tensor is rebound to the result (PyTorch changes its
# metadata in place and records these nodes, distinct from the out-of-place ones).
register(
    "unsqueeze_inplace",
    lambda x, dim: jnp.expand_dims(x, dim),
    "UnsqueezeBackward1",
    sample=S((2, 3), dim=1),
)
register("squeeze_inplace", jnp.squeeze, "SqueezeBackward3", sample=S((2, 1, 3)))
register(
    "squeeze_dim_inplace",
    lambda x, dim: jnp.squeeze(x, dim),
    "SqueezeBackward4",
    sample=S((2, 1, 3), dim=(1,)),
)
register(
    "squeeze_dims_inplace",
    lambda x, dim: jnp.squeeze(x, dim),
    "SqueezeBackward5",
    sample=S((2, 1, 1), dim=(1, 2)),
)
register("t_inplace", jnp.transpose, "TBackward1", sample=S((2, 3)))
register(
    "transpose_inplace",
    lambda x, dim0, dim1: jnp.swapaxes(x, dim0, dim1),
    "TransposeBackward1",
    sample=S((2, 3, 4), dim0=0, dim1=2),
)
