"""PyTorch's devices on JAX's: `device`, and what `torch.cuda`, `torch.accelerator` and
`torch.backends` answer about them.

`"cuda"` (or `"cuda:N"`) means JAX's N-th GPU and is available exactly when JAX has one,
so `device = torch.device("cuda" if torch.cuda.is_available() else "cpu")` picks the GPU
where there is one; asking for an absent one raises PyTorch's error (that of its CPU
build). A TPU is the accelerator (`torch.accelerator`), as `device("tpu")`.

What it does not do: move arrays (the recorded `to_device` op, methods/convert.py).
"""

from __future__ import annotations

import builtins
import threading

import jax

from . import errors

__all__ = [
    "Namespace",
    "accelerator",
    "backends",
    "cuda",
    "default_device",
    "device",
    "get_default_device",
    "of",
    "parse_device",
    "set_default_device",
]

_TYPES = ("cpu", "cuda", "tpu", "mps", "meta", "xla")
_PLATFORM = {"cpu": "cpu", "cuda": "gpu", "tpu": "tpu", "gpu": "gpu"}


class device:  # noqa: N801 - PyTorch's name
    """A device, as PyTorch names it: `device("cuda", 0)`, `device("cuda:0")`, `device("cpu")`.

    Example:
        >>> import funcgrad.tape as torch
        >>> d = torch.device("cuda", 1)
        >>> d, str(d), d.type, d.index
        (device(type='cuda', index=1), 'cuda:1', 'cuda', 1)
        >>> torch.ones(2).device
        device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, builtins.int):  # device(0): the accelerator's first device
            type, index = "cuda", type
        elif not isinstance(type, str):
            raise TypeError(f"device() received an invalid type {builtins.type(type).__name__}")
        elif ":" in type:
            if index is not None:
                raise RuntimeError(
                    f"type (string) must not include an index because index was passed "
                    f"explicitly: {type}"
                )
            type, _, text = type.partition(":")
            if not text.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{text}'")
            index = builtins.int(text)
        if type not in _TYPES:
            raise RuntimeError(errors.DEVICE_TYPE.format(type=type))
        self.type, self.index = type, index

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> builtins.int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        """`with torch.device("cuda"):` tensors made inside by factories go to it."""
        _context_stack().append(self)
        return self

    def __exit__(self, *exc):
        _context_stack().pop()
        return False


# ---------------------------------------------------------------- the default device
_default: list = [None]  # set_default_device: process-wide, as in PyTorch
_local = threading.local()  # `with device(...)` blocks, per thread


def _context_stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def default_device():
    """The device factories put new tensors on when given none (a `with device(...)`
    block, else `set_default_device`'s), or None: JAX's default placement."""
    stack = _context_stack()
    return stack[-1] if stack else _default[0]


def set_default_device(dev) -> None:
    """Makes `dev` the device factories (`zeros`, `tensor`, `rand`, ...) use when given
    none; None restores the CPU default. An absent device raises PyTorch's error when a
    tensor is made, as in PyTorch.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.set_default_device("cpu")
        >>> torch.zeros(2).device, torch.get_default_device()
        (device(type='cpu'), device(type='cpu'))
        >>> torch.set_default_device(None)
    """
    _default[0] = None if dev is None else device(dev)


def get_default_device() -> device:
    """The device factories use when given none (PyTorch's `torch.get_default_device`).

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.device("cpu"):
        ...     print(torch.get_default_device())
        cpu
    """
    return default_device() or device("cpu")


def _jax_devices(kind: str) -> list:
    try:
        return jax.devices(_PLATFORM[kind])
    except (RuntimeError, KeyError):
        return []


def parse_device(spec) -> jax.Device:
    """A device argument ('cpu', 'cuda:1', `device`, a jax.Device) -> the jax.Device.

    Example:
        >>> parse_device("cpu").platform
        'cpu'
    """
    if isinstance(spec, jax.Device):
        return spec
    d = spec if isinstance(spec, device) else device(spec)
    if d.type == "meta":
        raise NotImplementedError(errors.META_DEVICE)
    found = _jax_devices(d.type)
    if not found:
        if d.type == "cuda":
            raise AssertionError(errors.NO_CUDA + errors.NO_DEVICE_HINT.format(kind="GPU"))
        raise RuntimeError(
            errors.NO_DEVICE.format(device=d) + errors.NO_DEVICE_HINT.format(kind=d.type.upper())
        )
    index = d.index or 0
    if index >= len(found):
        raise RuntimeError(errors.DEVICE_ORDINAL)
    return found[index]


def of(jax_device) -> device:
    """The PyTorch device of a jax.Device: `cpu` (no index, as PyTorch's), `cuda:N`, `tpu:N`."""
    if jax_device.platform == "cpu":
        return device("cpu")
    kind = "cuda" if jax_device.platform == "gpu" else jax_device.platform
    return device(kind, _jax_devices(kind).index(jax_device))


class Namespace:
    """A namespace of PyTorch's functions and flags (`torch.cuda`, `torch.backends.cudnn`):
    its attributes may be set (`torch.backends.cudnn.benchmark = True`)."""

    def __init__(self, **attributes):
        self.__dict__.update(attributes)

    def __repr__(self) -> str:
        return f"Namespace({', '.join(sorted(self.__dict__))})"


# ---------------------------------------------------------------- torch.cuda
def _is_available() -> bool:
    return bool(_jax_devices("cuda"))


def _require_cuda() -> None:
    if not _is_available():
        raise AssertionError(errors.NO_CUDA + errors.NO_DEVICE_HINT.format(kind="GPU"))


def _current_device() -> builtins.int:
    _require_cuda()
    return 0


def _get_device_name(device_=None) -> str:
    _require_cuda()
    index = (
        0
        if device_ is None
        else (device(device_).index or 0 if not isinstance(device_, builtins.int) else device_)
    )
    return _jax_devices("cuda")[index].device_kind


def _synchronize(device_=None) -> None:
    _require_cuda()
    jax.effects_barrier()


def _manual_seed(seed) -> None:
    # One generator serves every device (JAX's keys are not per device): seeding the CPU
    # one already seeds what cuda ops draw from; as in PyTorch, this is silent without a GPU.
    return None


cuda = Namespace(
    is_available=_is_available,
    device_count=lambda: len(_jax_devices("cuda")),
    current_device=_current_device,
    get_device_name=_get_device_name,
    synchronize=_synchronize,
    manual_seed=_manual_seed,
    manual_seed_all=_manual_seed,
    empty_cache=lambda: None,
    is_initialized=_is_available,
)


# ---------------------------------------------------------------- torch.accelerator
def _current_accelerator(check_available: bool = False):
    for kind in ("cuda", "tpu"):
        if _jax_devices(kind):
            return device(kind)
    return None


def _accelerator_devices() -> list:
    """The accelerator's JAX devices; PyTorch's RuntimeError when there is none."""
    found = _current_accelerator()
    if found is None:
        raise RuntimeError(errors.NO_ACCELERATOR)
    return _jax_devices(found.type)


def _current_device_index() -> builtins.int:
    _accelerator_devices()
    return 0  # JAX places on its first device of a kind unless told otherwise


def _set_device_index(index) -> None:
    if _accelerator_devices() and index not in (0, -1, None):
        raise NotImplementedError(errors.SET_DEVICE_INDEX)


def _accelerator_synchronize(device_=None) -> None:
    _accelerator_devices()
    jax.effects_barrier()


def _accelerator_empty_cache() -> None:
    _accelerator_devices()  # (JAX frees arrays when they die: there is no cache to empty)


def _memory_stat(name: str):
    def read(device_=None) -> builtins.int:
        found = _accelerator_devices()
        stats = found[0].memory_stats() or {}
        return builtins.int(stats.get(name, 0))

    return read


accelerator = Namespace(
    current_accelerator=_current_accelerator,
    is_available=lambda: _current_accelerator() is not None,
    device_count=lambda: (
        len(_jax_devices(_current_accelerator().type)) if _current_accelerator() else 0
    ),
    current_device_index=_current_device_index,
    current_device_idx=_current_device_index,
    set_device_index=_set_device_index,
    set_device_idx=_set_device_index,
    synchronize=_accelerator_synchronize,
    empty_cache=_accelerator_empty_cache,
    memory_allocated=_memory_stat("bytes_in_use"),
    max_memory_allocated=_memory_stat("peak_bytes_in_use"),
)


# ---------------------------------------------------------------- torch.backends
backends = Namespace(
    cuda=Namespace(is_built=_is_available, matmul=Namespace(allow_tf32=False)),
    cudnn=Namespace(is_available=_is_available, enabled=True, benchmark=False, deterministic=False),
    mps=Namespace(is_available=lambda: False, is_built=lambda: False),
)
