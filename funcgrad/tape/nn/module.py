"""`Module`: PyTorch's container of parameters, buffers and submodules, on the tape.

A Module registers what is assigned to it (`Parameter` -> parameter, `Module` ->
submodule, `register_buffer` -> buffer), walks them by name, switches train/eval mode,
saves and loads state dicts under PyTorch's key names, and runs hooks around `forward`.
It holds no math: layers call `nn.functional`, which calls the op table.

Loading rebinds each parameter's array in place (the Parameter object stays the same, so an
optimizer that holds it keeps working), like PyTorch's `param.copy_(value)`.
"""

from __future__ import annotations

import copy
import itertools
from collections import OrderedDict
from collections.abc import Iterator

import jax
import jax.numpy as jnp

from .. import errors
from .._convert import canonical_dtype, to_arguments, x64
from ..backward_hooks import BackwardHook
from ..devices import parse_device
from ..hooks import RemovableHandle, add_hook
from ..tensor import Tensor
from .parameter import Parameter
from .state_dict import StateDictMixin

__all__ = ["Module"]


def _addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    rest = [(" " * spaces + line) if line.strip() else "" for line in lines[1:]]
    return "\n".join([lines[0]] + rest)


class Module(StateDictMixin):
    """Base class of all layers and models (PyTorch's `nn.Module`).

    Subclasses call `super().__init__()`, assign parameters, buffers and submodules as
    attributes, and define `forward`. Call the module, not `forward`, so hooks run.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape import nn
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = nn.Linear(3, 2)
        ...         self.register_buffer("steps", torch.zeros(()))
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> net = Net()
        >>> list(net.state_dict())
        ['steps', 'fc.weight', 'fc.bias']
        >>> net(torch.ones(4, 3)).shape
        torch.Size([4, 2])
    """

    training: bool

    def __init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", {})
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_backward_pre_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # ------------------------------------------------------------ registration
    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Adds a parameter (or None) under `name`."""
        self._check_init("parameter")
        _check_name(name, "parameter", self, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{errors.torch_type_name(param.dtype)}' object to parameter "
                f"'{name}' (torch.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Adds a buffer: state that is not a parameter (BatchNorm's running mean).

        Args:
          name: the attribute name.
          tensor: a tensor, or None.
          persistent: Optional, bool. Whether it is part of `state_dict()` (default True).
        """
        self._check_init("buffer")
        _check_name(name, "buffer", self, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Adds a child module under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_init("module")
        _check_name(name, "module", self, self._modules)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._drop(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                    "(torch.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._check_init("module")
            self._drop(name)
            self._modules[name] = value
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as child module '{name}' "
                    "(torch.nn.Module or None expected)"
                )
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                    "(torch.Tensor or None expected)"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _drop(self, name):
        self.__dict__.pop(name, None)
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Yields (name, module) for this module and all below it, depth first."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                sub = prefix + ("." if prefix else "") + name
                yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yields (name, parameter), with PyTorch's dotted names ('0.weight')."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        module = self
        for part in target.split(".") if target else ():
            if part not in module._modules:
                raise AttributeError(f"{module._get_name()} has no attribute `{part}`")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return module._parameters[name]

    def apply(self, fn) -> Module:
        """Calls fn(module) on every submodule, then on self (like `init` loops)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the parameters' `.grad`: to None (default) or to zeros in place."""
        for p in self.parameters():
            if p._grad is None:
                continue
            if set_to_none:
                p._grad = None
            else:
                g = p._grad
                if g._grad_fn is not None:
                    g.detach_()
                else:
                    g._requires_grad = False
                g._write(jnp.zeros_like(g._data))

    # ------------------------------------------------------------ dtype and device
    def _apply_arrays(self, fn) -> Module:
        # In JAX's 64-bit mode: a conversion to or from float64 must not be truncated.
        with x64():
            for t in itertools.chain(self.parameters(), self.buffers()):
                t._data = fn(t._data)
                if t._grad is not None:
                    t._grad._data = fn(t._grad._data)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Moves and/or casts parameters and buffers in place: `m.to('cpu')`,
        `m.to(torch.float32)`. Only floating-point tensors change dtype, as in PyTorch."""
        dtype, device = to_arguments(args, kwargs)
        dtype = canonical_dtype(dtype)  # refuses complex dtypes, as tensors' .to does
        target = None if device is None else parse_device(device)

        def convert(a):
            if dtype is not None and jnp.issubdtype(a.dtype, jnp.floating):
                a = a.astype(dtype)
            return a if target is None else jax.device_put(a, target)

        return self._apply_arrays(convert)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self) -> Module:
        return self.to(jnp.float32)

    def double(self) -> Module:
        return self.to(jnp.float64)

    def half(self) -> Module:
        return self.to(jnp.float16)

    def bfloat16(self) -> Module:
        return self.to(jnp.bfloat16)

    # ------------------------------------------------------------ hooks
    def _add_hook(self, registry: dict, hook) -> RemovableHandle:
        return add_hook(registry, hook)

    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """hook(module, args) runs before forward; it may return new args."""
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook) -> RemovableHandle:
        """hook(module, args, output) runs after forward; it may return a new output.

        Example:
            >>> import funcgrad.tape as torch
            >>> from funcgrad.tape import nn
            >>> seen = []
            >>> m = nn.ReLU()
            >>> h = m.register_forward_hook(lambda mod, args, out: seen.append(out.shape))
            >>> _ = m(torch.ones(2, 3))
            >>> seen
            [torch.Size([2, 3])]
        """
        return self._add_hook(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook) -> RemovableHandle:
        """hook(module, grad_input, grad_output) runs when the gradients w.r.t. the module's
        tensor inputs are computed; it may return new grad_input (a tuple).

        Example:
            >>> import funcgrad.tape as torch
            >>> from funcgrad.tape import nn
            >>> m = nn.ReLU()
            >>> _ = m.register_full_backward_hook(lambda mod, gi, go: tuple(g * 2 for g in gi))
            >>> x = torch.ones(3, requires_grad=True)
            >>> m(x).sum().backward()
            >>> x.grad
            tensor([2., 2., 2.])
        """
        return self._add_hook(self._backward_hooks, hook)

    def register_full_backward_pre_hook(self, hook) -> RemovableHandle:
        """hook(module, grad_output) runs before the module's backward; it may return new
        grad_output (a tuple)."""
        return self._add_hook(self._backward_pre_hooks, hook)

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward_hook = None
        if self._backward_hooks or self._backward_pre_hooks:
            backward_hook = BackwardHook(self)
            args = backward_hook.setup_input_hook(args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_hook is not None:
            output = backward_hook.setup_output_hook(output)
        return output

    # ------------------------------------------------------------ printing and copying
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(m), 2) for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __deepcopy__(self, memo):
        for t in self.buffers():  # plain tensors are not copyable by pickling
            if id(t) not in memo:
                memo[id(t)] = Tensor._wrap(t._data)
                memo[id(t)]._requires_grad = t._requires_grad
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            object.__setattr__(new, k, copy.deepcopy(v, memo))
        return new


def _type_name(value) -> str:
    return (
        errors.torch_type_name(value.dtype) if isinstance(value, Tensor) else type(value).__name__
    )


def _check_name(name, what, module, registry):
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{what} name can\'t contain "."')
    if name == "":
        raise KeyError(f'{what} name can\'t be empty string ""')
    if hasattr(module, name) and name not in registry:
        raise KeyError(f"attribute '{name}' already exists")
