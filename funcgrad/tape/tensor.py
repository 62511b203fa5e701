"""`Tensor`: a jax.Array with PyTorch's autograd state.

The state is what PyTorch keeps per tensor: `requires_grad`, `.grad`, `grad_fn` (the node
that made it, with `output_nr`), a version counter for in-place checks, and hooks. No math
lives here: the op methods (methods/) run table ops through `dispatch.apply`, which this
module hands the `Tensor` class (`Tensor._apply`, and `apply` for the modules above), and
`backward()` starts the engine (backward.py).

JAX arrays are immutable, so in-place ops rebind the tensor to a new array and bump its
version counter, as PyTorch does (`_write`, the one routine that does it). A view is a
function of its base and its version (views.py): it keeps its chain of view ops from its
base (`_base`, PyTorch's), recomputes its value when the shared counter has moved, and a
write through it is a write of the base. `detach()` and `.data` share the storage of
their source without being views for autograd (`_storage`: the root tensor holding the
array, and the chain to it).
"""

from __future__ import annotations

import functools
import warnings
import weakref

import jax
import jax.numpy as jnp

from . import dispatch, errors, hook_results, lazy, observe, printing, views
from ._convert import Defaults, is_wide, legacy_array, to_array, x64
from .backward import backward as _backward
from .engine import AccumulateGrad, no_edge
from .grad_mode import enable_grad, is_inference_mode_enabled
from .hooks import NO_HOOKS, add_hook, own
from .methods import Size as Size, TensorMethods
from .random.generator import use_tensor_class
from .saved_hooks import stamp_of

__all__ = ["Size", "Tensor", "apply"]


class _Version:
    """A version counter, shared by a tensor and its views (like PyTorch's)."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Tensor(TensorMethods):
    """A tensor on the tape. Create one with `funcgrad.tape.tensor(...)` and friends.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([2., 4.])
    """

    __array_priority__ = 100  # numpy scalars defer to our reflected operators
    # View state, set on views and aliases only (class defaults keep `_init` cheap).
    _view_chain: tuple = ()  # the view ops from `_base` to this tensor (views.py)
    _view_meta = None  # views.NO_GRAD / views.MULTI: PyTorch's restrictions on writing
    _storage = None  # a detach() alias: (the root tensor holding the array, the chain)
    _root_stamp = None  # a view: weak reference to the root's array its value came from
    _has_views = False  # set on a root once a view or alias of it is made (methods/inplace.py)
    _pending = None  # a lazy result not yet run: its record (funcgrad.tape.lazy)
    # A leaf's hooks: one shared empty registry until a hook is registered (hooks.own).
    _hooks = NO_HOOKS
    _post_accumulate_hooks = NO_HOOKS

    def __init__(self, *args, requires_grad: bool = False, device=None):
        # PyTorch's legacy constructor: Tensor([1, 2]) is float32, Tensor(2, 3) a shape.
        self._init(legacy_array(args, Defaults.float))
        if device is not None:
            self._data = self.to(device)._data
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, array, grad_fn=None, output_nr=0):
        self._data = array
        self._grad_fn = grad_fn
        self._output_nr = output_nr
        self._requires_grad = grad_fn is not None
        self._grad = None
        self._vc = _Version()
        self._base = None
        self._view_version = 0  # the counter's value when _data and _grad_fn were current
        self._accumulator = None  # weakref to the leaf's AccumulateGrad node
        self._retains_grad = False
        self._inference = False
        if observe.active:
            observe.created(self)

    @classmethod
    def _wrap(cls, array, grad_fn=None, output_nr=0) -> Tensor:
        t = Tensor.__new__(Tensor)
        t._init(array, grad_fn, output_nr)
        return t

    @classmethod
    def _lift(cls, value) -> Tensor:
        """A constant tensor from array-like data, as `funcgrad.tape.as_tensor` makes it."""
        t = Tensor._wrap(to_array(value))
        t._inference = is_inference_mode_enabled()
        return t

    def __getattr__(self, name):
        # Only reached for a missing attribute: `_data` is missing while a lazy result is
        # pending, and reading it runs the pending segment (a flush point).
        if name == "_data" and self.__dict__.get("_pending") is not None:
            lazy.materialize(self._pending.segment)
            return self.__dict__["_data"]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # ------------------------------------------------------------ autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._grad_fn is not None:
            if value:
                return  # like PyTorch: a non-leaf already requires grad
            raise RuntimeError(errors.NON_LEAF_REQUIRES_GRAD)
        if value and not jnp.issubdtype(self._data.dtype, jnp.inexact):
            raise RuntimeError(  # PyTorch's setter and requires_grad_() word it differently
                errors.INTEGER_REQUIRES_GRAD_SETTER
                + errors.INTEGER_HINT.format(dtype=self._data.dtype)
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Sets requires_grad in place on a leaf and returns self."""
        if requires_grad and not jnp.issubdtype(self._data.dtype, jnp.inexact):
            raise RuntimeError(
                errors.INTEGER_REQUIRES_GRAD + errors.INTEGER_HINT.format(dtype=self._data.dtype)
            )
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        if self._view_version != self._vc.value:
            self._sync()
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        """The version counter's value: how many in-place writes this tensor, its base and
        its views have had (PyTorch's `_version`)."""
        return self._vc.value

    @property
    def grad(self):
        if self._grad_fn is not None and not self._retains_grad:
            warnings.warn(errors.NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    "assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(
                    errors.GRAD_SIZE.format(grad=list(value.shape), size=list(self.shape))
                )
            if value.dtype != self.dtype:
                raise RuntimeError(
                    errors.GRAD_DTYPE.format(
                        grad=errors.torch_typemeta_name(value.dtype),
                        dtype=errors.torch_scalar_type(self.dtype),
                    )
                )
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Makes a non-leaf tensor keep its `.grad` during backward (no-op on leaves)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is None or self._retains_grad:
            return
        self._grad_fn._own("_retains_grad")[self._output_nr] = _retain_hook(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Registers `hook(grad) -> Tensor | None`, run on this tensor's gradient.

        Example:
            >>> import funcgrad.tape as torch
            >>> x = torch.ones(2, requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 10)
            >>> (2 * x).sum().backward()
            >>> x.grad
            tensor([20., 20.])
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = (
            own(self, "_hooks")
            if self._grad_fn is None
            else self._grad_fn._own("_tensor_pre_hooks").setdefault(self._output_nr, {})
        )
        return add_hook(hooks, _tensor_hook(hook))

    def register_post_accumulate_grad_hook(self, hook):
        """Registers `hook(tensor)`, run after a gradient is accumulated into this leaf."""
        if self._grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return add_hook(own(self, "_post_accumulate_hooks"), hook)

    def _edge(self):
        """The (node, output_nr) a gradient for this tensor flows into."""
        if self._view_version != self._vc.value:
            self._sync()
        if self._grad_fn is not None:
            return self._grad_fn, self._output_nr
        if self._accumulator is no_edge:
            return None, 0
        node = self._accumulator() if self._accumulator is not None else None
        if node is None:
            node = AccumulateGrad(self)
            self._accumulator = weakref.ref(node)
        return node, 0

    def _accumulate_grad(self, grad, create_graph: bool) -> None:
        """Adds an incoming gradient into `.grad`, as PyTorch's AccumulateGrad does."""
        observe.writing(self, "accumulated a .grad into")
        if isinstance(grad, Tensor) and not create_graph:
            grad = grad._data
        if create_graph:
            grad = grad if isinstance(grad, Tensor) else Tensor._wrap(grad)
            self._grad = grad if self._grad is None else self._grad + grad
        elif self._grad is None:
            self._grad = Tensor._wrap(grad)
        else:
            # In place, like PyTorch: a reference to the old .grad sees the new value.
            with x64(is_wide(grad.dtype)):
                self._grad._write(jnp.add(self._grad._data, grad))
        if self._post_accumulate_hooks:
            for hook in list(self._post_accumulate_hooks.values()):
                if hook(self) is not None:
                    raise RuntimeError(errors.POST_ACCUMULATE_HOOK_RETURN)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Computes the gradient of this tensor w.r.t. graph leaves; see autograd.backward.

        Args:
          gradient: Optional. The gradient w.r.t. this tensor; required unless it is a scalar.
          retain_graph: Optional, bool. Keep the graph's saved values for another backward.
            Defaults to create_graph.
          create_graph: Optional, bool. Record the backward itself (for higher-order grads).
          inputs: Optional. Accumulate only into these tensors' `.grad`.

        Example:
            >>> import funcgrad.tape as torch
            >>> a = torch.tensor([1.0, 2.0], requires_grad=True)
            >>> c = a * 2
            >>> c.sum().backward(retain_graph=True)
            >>> c.mean().backward()
            >>> a.grad
            tensor([3., 3.])
        """
        _backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ------------------------------------------------------------ storage
    def detach(self) -> Tensor:
        """A tensor with the same values, cut from the graph. It shares this tensor's
        storage and version counter, as in PyTorch: a write to one is seen by the other."""
        value = self._value()
        if observe.transforms is not None:  # inside torch.func.grad: a JAX constant too
            value = observe.transforms.detached(value)
        out = Tensor._wrap(value)
        out._vc, out._view_version = self._vc, self._vc.value
        out._storage = (self._root(), self._root_chain())
        out._storage[0]._has_views = True
        return out

    def detach_(self) -> Tensor:
        """Cuts this tensor from the graph in place."""
        if self._base is not None:
            raise RuntimeError(errors.DETACH_VIEW_INPLACE)
        self._grad_fn, self._output_nr, self._requires_grad = None, 0, False
        return self

    @property
    def data(self) -> Tensor:
        """This tensor's values as a tensor that does not require grad (PyTorch's `.data`)."""
        return self.detach()

    @data.setter
    def data(self, value) -> None:
        observe.writing(self, "assigned .data of")
        array = to_array(value)
        if self._requires_grad and not jnp.issubdtype(array.dtype, jnp.inexact):
            raise RuntimeError(errors.DATA_NOT_FLOAT)
        self._data = array

    @property
    def array(self) -> jax.Array:
        """The underlying jax.Array (read-only; use the tape ops to change it)."""
        return self._value()

    def _is_view(self) -> bool:
        """Whether this tensor is a view of another (PyTorch's `_is_view()`)."""
        return self._base is not None

    def _root(self) -> Tensor:
        """The tensor whose `_data` holds this one's storage (itself unless a view or alias)."""
        t = self._base if self._base is not None else self
        return t._storage[0] if t._storage is not None else t

    def _root_chain(self) -> tuple:
        """The view chain from `_root()` to this tensor."""
        t = self._base if self._base is not None else self
        prefix = t._storage[1] if t._storage is not None else ()
        return prefix + self._view_chain

    def _value(self):
        if self._view_version != self._vc.value:
            base = self._base
            if self._view_meta is not None and base is not None and base._requires_grad:
                # A restricted view whose base was written: its values may be read (under
                # no_grad), its history not (grad_fn raises PyTorch's error), as in PyTorch.
                return views.replay(base._value(), self._view_chain)
            self._sync()
        return self._data

    def _sync(self) -> None:
        """Brings a view (or alias) up to its storage's version: its value recomputed from
        the base and, as PyTorch does, a new `AsStridedBackward0` grad_fn on the base's
        history when the base requires grad."""
        base, version = self._base, self._vc.value
        if base is not None:
            if base._requires_grad and self._view_meta is not None:
                # PyTorch refuses to rebuild the history of a restricted view.
                name = self._grad_fn.name() if self._grad_fn is not None else None
                raise views.rebase_error(self, name, indirect=True)
            if base._requires_grad:
                with enable_grad():
                    fresh = apply(views.AS_STRIDED, base, chain=self._view_chain)
                self._data, self._grad_fn, self._output_nr = fresh._data, fresh._grad_fn, 0
                self._requires_grad = fresh._requires_grad
                if self._retains_grad:  # moves to the new grad_fn, as in PyTorch
                    self._retains_grad = False
                    self.retain_grad()
            else:
                self._data = views.replay(base._value(), self._view_chain)
            self._root_stamp = stamp_of(base)
        elif self._storage is not None:
            root, chain = self._storage
            self._data = views.replay(root._value(), chain)
        self._view_version = version

    def is_inference(self) -> bool:
        return self._inference

    def _write(self, array) -> None:
        """Rebinds this tensor to `array` in place and off the tape, bumping its version
        counter, as PyTorch's in-place ops do (a graph that saved the old value then fails
        its backward). A view or a `.detach()` alias writes through to the tensor holding
        the storage, so its base and every other view see the change."""
        if self._base is not None:
            base = self._base
            base._write(views.scatter(base._value(), array, self._view_chain))
        elif self._storage is not None:
            root, chain = self._storage
            root._write(views.scatter(root._value(), array, chain))
        else:
            self._data, self._pending = array, None  # a pending value is replaced
            self._vc.value += 1
            self._view_version = self._vc.value
            return
        self._data, self._view_version = array, self._vc.value

    def _snapshot(self) -> tuple:
        """The autograd state a trace may change, for `_restore` (see state.py)."""
        return tuple(getattr(self, name) for name in _SNAPSHOT) + (self._vc.value,)

    def _restore(self, snapshot: tuple) -> None:
        for name, value in zip(_SNAPSHOT, snapshot):
            setattr(self, name, value)
        self._vc.value = self._view_version = snapshot[-1]

    def unsafe_buffer_pointer(self) -> int:
        """The address of this tensor's device buffer (jax.Array's method of the same name),
        so that `funcgrad.functional.residual_bytes` counts a tensor and the arrays made from
        it as one allocation."""
        return self._data.unsafe_buffer_pointer()

    # ------------------------------------------------------------ Python protocols
    def __repr__(self) -> str:
        return printing.tensor_repr(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __reduce_ex__(self, protocol):
        raise TypeError("funcgrad.tape tensors are not picklable; save tensor.numpy() instead")

    def __deepcopy__(self, memo):
        """A new leaf with the same values, requires_grad and a copy of `.grad` (PyTorch)."""
        if self._grad_fn is not None:
            raise RuntimeError(errors.DEEPCOPY_NON_LEAF)
        if id(self) in memo:
            return memo[id(self)]
        out = type(self).__new__(type(self))
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k not in _FRESH})
        out._init(self._data)  # arrays are immutable: sharing one is a copy
        out._requires_grad = self._requires_grad
        memo[id(self)] = out
        if self._grad is not None:
            out._grad = self._grad.__deepcopy__(memo)
        return out

    __hash__ = object.__hash__


# The fields of `_snapshot` (and the version counter's value).
_SNAPSHOT = (
    "_data",
    "_grad",
    "_grad_fn",
    "_output_nr",
    "_requires_grad",
    "_accumulator",
    "_retains_grad",
)
# Autograd state a deep copy must not share with the original.
_FRESH = frozenset(
    ("_grad", "_vc", "_accumulator", "_hooks", "_post_accumulate_hooks")
    + ("_base", "_storage", "_view_chain", "_view_meta")
)

# The op dispatcher, bound to this class: what the method mixins call (`self._apply`) and
# what the modules above the tensor use (`from funcgrad.tape.tensor import apply`).
apply = functools.partial(dispatch.apply, Tensor)
Tensor._apply = staticmethod(apply)
use_tensor_class(Tensor)  # generators return their state as a tape tensor
hook_results.use_tensor_class(Tensor)  # node hooks see gradients as tape tensors


def _tensor_hook(hook):
    """A tensor hook as the engine calls it, on a raw gradient (an array, or a tensor under
    create_graph): the user's hook sees a tensor and may return a replacement."""

    def on_grad(grad):
        return hook_results.run_tensor_hook(hook, grad)

    return on_grad


def _retain_hook(tensor):
    """retain_grad as a hook the engine runs last on the tensor's gradient."""
    ref = weakref.ref(tensor)

    def retain(grad):
        t = ref()
        if t is None:
            return
        # Out of place, like PyTorch's retain_grad hook (`grad = grad + new`): unlike a
        # leaf's .grad, a reference to the old retained grad keeps its value.
        old = t._grad
        if isinstance(grad, Tensor):  # create_graph: the retained grad stays differentiable
            t._grad = grad if old is None else old + grad
        else:
            if old is None:
                t._grad = Tensor._wrap(grad)
            else:
                with x64(is_wide(grad.dtype)):
                    t._grad = Tensor._wrap(jnp.add(old._data, grad))

    return retain
