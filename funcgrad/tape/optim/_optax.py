"""The optax side of `Optimizer`: group options as injected hyperparameters, sub-states of
a chained state, and the jitted update shared by every parameter of a transformation.

Plain functions of optax states and arrays; they know tensors only to unwrap a tensor
given as a group option (`_scalar`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..tensor import Tensor


def _scalar(value):
    """A group option as something `jnp.asarray` takes (a Tensor becomes its array)."""
    return value._value() if isinstance(value, Tensor) else value


def _python_number(array):
    """A scalar hyperparameter as the Python number the user most likely wrote (0.1, not
    0.10000000149011612 from its float32 copy)."""
    value = np.asarray(array)
    if value.ndim:
        return array
    if np.issubdtype(value.dtype, np.integer):
        return int(value)
    return float(str(value[()]))


def _find_state(state, cls):
    """The first sub-state of type `cls` in an optax state (e.g. in a chain), or None."""
    is_leaf = lambda s: isinstance(s, cls)  # noqa: E731
    return next((s for s in jax.tree.leaves(state, is_leaf=is_leaf) if is_leaf(s)), None)


def _replace_state(state, cls, new):
    """The optax state with its sub-state of type `cls` replaced by `new`."""
    is_leaf = lambda s: isinstance(s, cls)  # noqa: E731
    return jax.tree.map(lambda s: new if is_leaf(s) else s, state, is_leaf=is_leaf)


def _is_injected(state) -> bool:
    return hasattr(state, "hyperparams") and hasattr(state, "hyperparams_states")


def _with_hyperparams(state, values: dict):
    """The injected state with the group's current hyperparameter values."""
    if not values or not _is_injected(state):
        return state
    hyperparams = dict(state.hyperparams)
    for name, value in values.items():
        if name in hyperparams:
            hyperparams[name] = jnp.asarray(value, dtype=hyperparams[name].dtype)
    return state._replace(hyperparams=hyperparams)


@functools.lru_cache(maxsize=256)
def _update_fn(tx: optax.GradientTransformation):
    """One jitted step for a list of parameters that share `tx` (cached per transformation).

    Under `funcgrad.tape.jit` this is traced into the caller's program like any function.
    """

    def update(grads, states, params, hyperparams):
        new_params, new_states = [], []
        for g, state, p in zip(grads, states, params):
            updates, state = tx.update(g, _with_hyperparams(state, hyperparams), p)
            new_params.append(optax.apply_updates(p, updates))
            new_states.append(state)
        return new_params, new_states

    return jax.jit(update)
