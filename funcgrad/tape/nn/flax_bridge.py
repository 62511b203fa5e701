"""A Flax module on the tape (the other direction, a tape module as a function of its
weights, is `functional_call` in `stateless.py`).

`from_flax(module, variables)` makes a tape `Module` whose forward is the Flax `apply`,
recorded as ONE tape op (backward is `jax.vjp` of the whole apply); the Flax parameters
are leaf `Parameter`s with `.grad`, other collections (batch_stats) are buffers. Flax
modules that need RNGs or mutate collections in their apply are not supported here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._op import Op
from ..creation import as_tensor
from ..tensor import Tensor, apply
from .module import Module
from .parameter import Parameter

__all__ = ["FlaxModule", "from_flax"]


class _Scope(Module):
    """A level of the Flax variable tree ('Dense_0'): holds parameters, no forward."""


_apply_ops: dict = {}


def _apply_op(flax_module, treedef) -> Op:
    """The tape op of `flax_module.apply`, shared by equal modules with the same variable
    structure so that their jitted forward and pullback compile once."""
    try:
        key = (flax_module, treedef)
        hash(key)
    except TypeError:  # an unhashable module: its own op
        key = None
    op = _apply_ops.get(key) if key is not None else None
    if op is None:
        op = Op(
            f"flax_apply_{type(flax_module).__name__}",
            _apply_fn(flax_module, treedef),
            "FlaxApplyBackward0",
            "all",
            multi=True,
        )
        if key is not None:
            _apply_ops[key] = op
    return op


def _apply_fn(flax_module, treedef):
    def fn(*arrays, n_args, kwargs):
        variables = jax.tree_util.tree_unflatten(treedef, arrays[n_args:])
        out = flax_module.apply(variables, *arrays[:n_args], **dict(kwargs))
        return tuple(jax.tree_util.tree_leaves(out))

    return fn


class FlaxModule(Module):
    """A Flax linen module running on the tape; build it with `from_flax`."""

    def __init__(self, module, variables, **apply_kwargs):
        super().__init__()
        self.flax_module = module
        self.apply_kwargs = dict(apply_kwargs)
        leaves, treedef = jax.tree_util.tree_flatten_with_path(_plain(variables))
        self._treedef = treedef
        self._leaves = []
        for path, leaf in leaves:
            keys = [str(getattr(k, "key", k)) for k in path]
            names = keys[1:] if keys[0] == "params" else keys
            owner = self
            for name in names[:-1]:
                if name not in owner._modules:
                    owner.add_module(name, _Scope())
                owner = owner._modules[name]
            if keys[0] == "params":
                t = Parameter(jnp.asarray(leaf))
                owner.register_parameter(names[-1], t)
            else:
                t = as_tensor(jnp.asarray(leaf))
                owner.register_buffer(names[-1], t)
            self._leaves.append(t)
        self._op = _apply_op(module, treedef)
        self._out_trees: dict = {}

    def forward(self, *args, **kwargs):
        inputs = [a if isinstance(a, Tensor) else as_tensor(a) for a in args]
        static = tuple(sorted({**self.apply_kwargs, **kwargs}.items()))
        outs = apply(self._op, *inputs, *self._leaves, n_args=len(inputs), kwargs=static)
        return jax.tree_util.tree_unflatten(self._out_tree(inputs, static), outs)

    def _out_tree(self, inputs, static):
        key = (tuple((t.shape, t.dtype) for t in inputs), static)
        tree = self._out_trees.get(key)
        if tree is None:
            shapes = jax.eval_shape(
                lambda *a: self.flax_module.apply(
                    jax.tree_util.tree_unflatten(self._treedef, a[len(inputs) :]),
                    *a[: len(inputs)],
                    **dict(static),
                ),
                *[t._data for t in inputs],
                *[t._data for t in self._leaves],
            )
            tree = self._out_trees[key] = jax.tree_util.tree_structure(shapes)
        return tree

    def flax_variables(self) -> dict:
        """The current weights as a Flax variables dict (e.g. after optimizer steps)."""
        return jax.tree_util.tree_unflatten(self._treedef, [t._data for t in self._leaves])

    def __repr__(self) -> str:
        return f"FlaxModule({type(self.flax_module).__name__})"


def _plain(tree):
    """Flax FrozenDicts -> plain dicts (so paths and treedefs are ordinary)."""
    if hasattr(tree, "items"):
        return {k: _plain(v) for k, v in tree.items()}
    return tree


def from_flax(module, variables, **apply_kwargs) -> FlaxModule:
    """Runs a Flax linen module on the tape: its apply is one op, its params are leaves.

    Args:
      module: a `flax.linen.Module`.
      variables: its variables, e.g. `module.init(key, x)`.
      **apply_kwargs: static keyword arguments for every apply (e.g. `train=False`).

    Returns:
      A `FlaxModule`: call it on tape tensors; after `.backward()` each parameter
      (`named_parameters()`, names like 'Dense_0.kernel') holds its `.grad`.

    Example:
        >>> import jax, flax.linen as fnn
        >>> import funcgrad.tape as torch
        >>> dense = fnn.Dense(2)
        >>> m = torch.nn.from_flax(dense, dense.init(jax.random.key(0), jax.numpy.ones((1, 3))))
        >>> m(torch.ones(4, 3)).sum().backward()
        >>> [(n, tuple(p.grad.shape)) for n, p in m.named_parameters()]
        [('bias', (2,)), ('kernel', (3, 2))]
    """
    return FlaxModule(module, variables, **apply_kwargs)
