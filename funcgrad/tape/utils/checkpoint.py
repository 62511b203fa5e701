"""`torch.utils.checkpoint` on the tape: activation checkpointing.

`checkpoint(function, *args)` runs `function` without keeping what its ops save for
backward, and runs it again during backward to get those values back: less memory held
between forward and backward (`graph_bytes` shows it), one more forward's worth of compute.
Both of PyTorch's variants are here, as PyTorch 2.13 builds them:

- `use_reentrant=True` (the default when it is not passed, with PyTorch's warning): one
  custom `Function` node, `CheckpointFunctionBackward`, saves only the inputs; its backward
  reruns `function` with grad enabled and runs a nested `.backward()` through the result.
- `use_reentrant=False`: the graph is recorded op by op (the grad_fns are the ops' own),
  but under saved-tensor hooks that keep a placeholder instead of each saved value; the
  first unpack during backward reruns `function` and hands the recomputed values over.

The random stream is restored for the rerun when `preserve_rng_state` (dropout draws the same
mask). The math of every op, forward and backward, is the ops' own (JAX's vjp); this module
only decides when to run `function` and which values to keep. It does not provide
PyTorch's `context_fn`, `debug` mode or selective checkpoint policies, nor CUDA RNG states
(the tape has one random stream for every device).
"""

from __future__ import annotations

import warnings
import weakref

from .. import errors
from ..backward import backward
from ..engine import checkpoint_valid
from ..function import Function
from ..grad_mode import enable_grad
from ..random.generator import fork_rng, get_rng_state, set_rng_state
from ..saved_hooks import saved_tensors_hooks
from ..tensor import Tensor

__all__ = ["CheckpointError", "CheckpointFunction", "checkpoint", "checkpoint_sequential"]


class CheckpointError(RuntimeError):
    """PyTorch's error for a rerun that does not save what the first run saved."""


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """Runs `function(*args, **kwargs)` keeping none of its saved values; backward runs it
    again to recompute them.

    Args:
      function: what to run; it must do the same when rerun (same ops, same shapes).
      *args: its positional arguments.
      use_reentrant: Optional. True: one `CheckpointFunctionBackward` node, `.backward()`
        only, keyword arguments refused. False (recommended): the ops' own nodes, usable
        with `autograd.grad`. Not given: warns as PyTorch does and uses True.
      preserve_rng_state: Optional. Rerun with the random state of the first run (default).
      **kwargs: keyword arguments of `function` (use_reentrant=False only).

    Returns:
      What `function` returns.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.utils.checkpoint import checkpoint
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> y = checkpoint(lambda a: (a.exp() * a).sum(), x, use_reentrant=False)
        >>> y.backward()
        >>> torch.allclose(x.grad, x.exp() * (x + 1))
        True
    """
    if use_reentrant is None:
        warnings.warn(errors.CHECKPOINT_USE_REENTRANT, UserWarning, stacklevel=2)
        use_reentrant = True
    # PyTorch's own options are not the function's keyword arguments: those that only
    # change what is checked or when the rerun stops are accepted, the others refused.
    kwargs.pop("determinism_check", None)
    kwargs.pop("early_stop", None)
    for option in ("context_fn", "debug"):
        if option in kwargs:
            raise NotImplementedError(errors.CHECKPOINT_OPTION.format(option=option))
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    return _checkpoint_without_reentrant(function, preserve_rng_state, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Runs `functions` (a list of modules or callables, or an `nn.Sequential`) one after
    the other, checkpointing them in `segments` chunks; the last chunk is not checkpointed,
    as in PyTorch.

    Args:
      functions: the callables, each taking the previous one's output.
      segments: how many chunks to cut them into.
      input: the first one's input.
      use_reentrant: Optional. As in `checkpoint` (not given: PyTorch's warning, True).
      **kwargs: only `preserve_rng_state`, as in `checkpoint`.

    Returns:
      The last function's output.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.utils.checkpoint import checkpoint_sequential
        >>> nn = torch.nn
        >>> model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> x = torch.ones(2, 3, requires_grad=True)
        >>> checkpoint_sequential(model, 2, x, use_reentrant=False).shape
        torch.Size([2, 1])
    """
    if use_reentrant is None:
        warnings.warn(errors.CHECKPOINT_SEQUENTIAL_USE_REENTRANT, UserWarning, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if hasattr(functions, "children") and not isinstance(functions, list | tuple):
        functions = list(functions.children())  # an nn.Sequential

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x

        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(
            run(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve
        )
    return run(end + 1, len(functions) - 1)(input)


# ---------------------------------------------------------------- use_reentrant=True
class CheckpointFunction(Function):
    """The reentrant variant's node: forward saves the inputs only; backward reruns the
    function with grad enabled and backpropagates through it with a nested `.backward()`
    (which also accumulates the `.grad` of the parameters the function uses)."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        if not any(a.requires_grad for a in args if isinstance(a, Tensor)):
            warnings.warn(errors.CHECKPOINT_NO_INPUT_GRAD, UserWarning, stacklevel=2)
        ctx.run_function, ctx.preserve_rng_state = run_function, preserve_rng_state
        if preserve_rng_state:
            ctx.rng_state = get_rng_state()
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        return run_function(*args)  # Function.apply runs forward under no_grad

    @staticmethod
    def backward(ctx, *grads):
        if not checkpoint_valid():
            raise RuntimeError(errors.CHECKPOINT_REENTRANT_GRAD)
        inputs = list(ctx.inputs)
        for i, tensor in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = tensor
        detached = tuple(_detached(a) for a in inputs)
        outputs = _rerun(ctx.run_function, ctx.preserve_rng_state, ctx, detached, {})
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [
            (o, g) for o, g in zip(outputs, grads) if isinstance(o, Tensor) and o.requires_grad
        ]
        if not pairs:
            raise RuntimeError(
                "none of output has requires_grad=True, this checkpoint() is not necessary"
            )
        backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *(a.grad if isinstance(a, Tensor) else None for a in detached))


def _detached(a):
    if not isinstance(a, Tensor):
        return a
    d = a.detach()
    d.requires_grad = a.requires_grad
    return d


def _rerun(function, preserve_rng_state, stash, args, kwargs):
    """`function` run again under grad mode, from the random state `stash.rng_state`."""
    with fork_rng(enabled=preserve_rng_state):
        if preserve_rng_state:
            set_rng_state(stash.rng_state)
        with enable_grad():
            return function(*args, **kwargs)


# ---------------------------------------------------------------- use_reentrant=False
class _Holder:
    """What a node keeps instead of a saved tensor: the recomputed value, only between
    the rerun and the unpack that consumes it."""

    __slots__ = ("value", "__weakref__")

    def __init__(self):
        self.value = None


class _Frame:
    """One checkpointed call: the function and its arguments (to rerun it), the random
    state, and weak references to the holders its nodes keep, in the order they saved."""

    def __init__(self, function, preserve_rng_state, args, kwargs):
        self.function, self.preserve = function, preserve_rng_state
        self.args, self.kwargs = args, kwargs
        self.rng_state = get_rng_state() if preserve_rng_state else None
        self.holders: list = []

    def pack(self, _tensor):
        holder = _Holder()
        self.holders.append(weakref.ref(holder))
        return holder

    def unpack(self, holder):
        if holder.value is None:
            self.recompute()
        value, holder.value = holder.value, None
        return value

    def recompute(self):
        """Reruns the function; its k-th saved tensor goes to the k-th holder still alive."""
        count = [0]

        def pack(tensor):
            k = count[0]
            count[0] += 1
            if k >= len(self.holders):
                raise CheckpointError(errors.CHECKPOINT_MORE_SAVED)
            holder = self.holders[k]()
            if holder is not None:
                holder.value = tensor.detach()
            return None

        with saved_tensors_hooks(pack, lambda _: None):
            _rerun(self.function, self.preserve, self, self.args, self.kwargs)
        if count[0] != len(self.holders):
            raise CheckpointError(
                errors.CHECKPOINT_COUNT_MISMATCH.format(forward=len(self.holders), rerun=count[0])
            )


def _checkpoint_without_reentrant(function, preserve_rng_state, args, kwargs):
    frame = _Frame(function, preserve_rng_state, args, kwargs)
    with saved_tensors_hooks(frame.pack, frame.unpack):
        return function(*args, **kwargs)
