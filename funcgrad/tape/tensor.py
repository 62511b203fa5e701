"""`Tensor`: a jax.Array with PyTorch's autograd state.

The state is what PyTorch keeps per tensor: `requires_grad`, `.grad`, `grad_fn` (the node
that made it, with `output_nr`), a version counter for in-place checks, and hooks. No math
lives here: every method dispatches to the op table (`ops.apply`), and `backward()` to
`autograd.backward`.

JAX arrays are immutable, so in-place ops rebind the tensor to a new array and bump its
version counter, as PyTorch does. Views cannot share memory with their base: in-place
changes through a view (or of a base whose view is read later) raise instead of silently
losing the write; `detach()` and `.data` are the exception, since they alias the whole
array and can write through.
"""

from __future__ import annotations

import warnings
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from . import ops as _ops
from .engine import AccumulateGrad, no_edge
from .grad_mode import is_grad_enabled
from .tensor_methods import TensorMethods
from .tensor_methods_index import IndexMethods
from .tensor_methods_math import MathMethods


class _Version:
    """A version counter, shared by a tensor and its views (like PyTorch's)."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Size(tuple):
    """PyTorch's torch.Size: a tuple that prints as `torch.Size([2, 3])`."""

    def __repr__(self):
        return errors.torch_size(self)

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


class Tensor(TensorMethods, MathMethods, IndexMethods):
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
    # While funcgrad.tape.jit traces a step: its trace context (compile._TraceContext), told
    # of every tensor made and every write to a tensor. None otherwise: one check per op.
    _jit_trace = None

    def __init__(self, data=None, *, requires_grad: bool = False):
        from .creation import _to_array

        self._init(_to_array(data if data is not None else [], None))
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, array, grad_fn=None, output_nr=0):
        self._data = array
        self._grad_fn = grad_fn
        self._output_nr = output_nr
        self._requires_grad = grad_fn is not None
        self._grad = None
        self._version = _Version()
        self._base = None
        self._view_version = 0
        self._accumulator = None  # weakref to the leaf's AccumulateGrad node
        self._hooks = []
        self._post_accumulate_hooks = []
        self._retains_grad = False
        self._inference = False
        if Tensor._jit_trace is not None:
            Tensor._jit_trace.created_tensor(self)

    @classmethod
    def _wrap(cls, array, grad_fn=None, output_nr=0) -> Tensor:
        t = Tensor.__new__(Tensor)
        t._init(array, grad_fn, output_nr)
        return t

    # ------------------------------------------------------------ autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._grad_fn is not None:
            if value:
                return  # like PyTorch: a non-leaf already requires grad
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
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
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

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
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a "
                    f"tensor of size '{list(self.shape)}'. Please ensure that the gradient "
                    "and the tensor are the same size"
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
        self._grad_fn._retains_grad[self._output_nr] = weakref.ref(self)
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
        from .engine import _RemovableHandle

        hooks = (
            self._hooks
            if self._grad_fn is None
            else self._grad_fn._tensor_pre_hooks.setdefault(self._output_nr, [])
        )
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Registers `hook(tensor)`, run after a gradient is accumulated into this leaf."""
        if self._grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .engine import _RemovableHandle

        self._post_accumulate_hooks.append(hook)
        return _RemovableHandle(self._post_accumulate_hooks, hook)

    def _edge(self):
        """The (node, output_nr) a gradient for this tensor flows into."""
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
        if Tensor._jit_trace is not None:
            Tensor._jit_trace.writing(self, "accumulated a .grad into")
        if isinstance(grad, Tensor) and not create_graph:
            grad = grad._data
        if create_graph:
            grad = grad if isinstance(grad, Tensor) else Tensor._wrap(grad)
            self._grad = grad if self._grad is None else self._grad + grad
        elif self._grad is None:
            self._grad = Tensor._wrap(grad)
        else:
            # In place, like PyTorch: a reference to the old .grad sees the new value.
            self._grad._data = jnp.add(self._grad._data, grad)
            self._grad._version.value += 1
        for hook in self._post_accumulate_hooks:
            hook(self)

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
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """A tensor with the same values, cut from the graph (aliases this one's array)."""
        out = Tensor._wrap(self._value())
        out._version = self._version
        # An alias of an alias aliases the first one's base: writes reach the real tensor.
        base = self._base if getattr(self, "_alias", False) else self
        out._base, out._view_version = base, self._version.value
        out._alias = True
        return out

    def detach_(self) -> Tensor:
        """Cuts this tensor from the graph in place."""
        if self._base is not None and not getattr(self, "_alias", False):
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution."
            )
        self._grad_fn, self._output_nr, self._requires_grad = None, 0, False
        return self

    @property
    def data(self) -> Tensor:
        """This tensor's values as a tensor that does not require grad (PyTorch's `.data`)."""
        return self.detach()

    @data.setter
    def data(self, value) -> None:
        if Tensor._jit_trace is not None:
            Tensor._jit_trace.writing(self, "assigned .data of")
        self._data = value._data if isinstance(value, Tensor) else jnp.asarray(value)

    @property
    def array(self) -> jax.Array:
        """The underlying jax.Array (read-only; use the tape ops to change it)."""
        return self._value()

    def _value(self):
        if self._base is not None and self._version.value != self._view_version:
            if getattr(self, "_alias", False) and self._base._version is self._version:
                self._data, self._view_version = self._base._value(), self._version.value
            else:
                raise NotImplementedError(
                    errors.VIEW_INPLACE.format(what="the base of a view that is read afterwards")
                )
        return self._data

    def is_inference(self) -> bool:
        return self._inference

    # ------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self._data.shape[dim]

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def nelement(self) -> int:
        return self.numel()

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    @property
    def device(self):
        if isinstance(self._data, jax.core.Tracer):  # inside jit(): placed with the program
            return jax.devices()[0]
        return next(iter(self._data.devices()))

    @property
    def is_floating_point(self):
        return lambda: bool(jnp.issubdtype(self._data.dtype, jnp.floating))

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ------------------------------------------------------------ leaving the tape
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar"
            )
        return self._concrete(".item()").item()

    def _concrete(self, what: str):
        """The array, which must hold values: inside jit() it is a tracer, and `what` (e.g.
        `.item()`) raises in PyTorch terms instead of JAX's concretization error."""
        data = self._value()
        if isinstance(data, jax.core.Tracer):
            from .compile import traced_value_error

            raise traced_value_error(what)
        return data

    def tolist(self):
        return np.asarray(self._concrete(".tolist()")).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a NumPy array. As in PyTorch, refused for a tensor that requires
        grad while grad mode is on, unless force=True."""
        if self._requires_grad and not force and is_grad_enabled():
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return np.asarray(self._concrete(".numpy()"))

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __float__(self):
        self._concrete("float()")
        return float(self.item())

    def __int__(self):
        self._concrete("int()")
        return int(self.item())

    def __index__(self):
        if jnp.issubdtype(self._data.dtype, jnp.integer):
            self._concrete("using a tensor as an index (__index__)")
            return int(self.item())
        raise TypeError("only integer tensors of a single element can be converted to an index")

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        self._concrete("bool() (a Python `if`, `while`, `and`, `or` or `not` on a tensor)")
        return bool(self.item())

    def __repr__(self) -> str:
        from .printing import tensor_repr

        return tensor_repr(self)

    __hash__ = object.__hash__

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __reduce_ex__(self, protocol):
        raise TypeError("funcgrad.tape tensors are not picklable; save tensor.numpy() instead")

    def __deepcopy__(self, memo):
        """A new leaf with the same values, requires_grad and a copy of `.grad` (PyTorch)."""
        if self._grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment.  If you were attempting to deepcopy a module, this may "
                "be because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001"
            )
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


# Autograd state a deep copy must not share with the original.
_FRESH = frozenset(("_grad", "_version", "_accumulator", "_hooks", "_post_accumulate_hooks"))

_ops.Tensor = Tensor  # the op dispatcher needs the class; see ops.Tensor
