"""PyTorch's recurrent cells `RNNCell`, `LSTMCell`, `GRUCell`: one step of the layers in
recurrent.py, with PyTorch's parameter names (`weight_ih`, `weight_hh`, `bias_ih`,
`bias_hh`), init, checks and error texts.

Each step is composed of table ops as PyTorch's C++ cells compose it (so their graph, node
names and saved tensors are PyTorch's: an RNNCell's result is a `TanhBackward0` over an
`AddBackward0` of two `AddmmBackward0`, an LSTMCell's gates come from an
`UnsafeSplitBackward0`). A hidden state carried from step to step keeps the graph of all
previous steps alive, as in PyTorch: detach it to truncate backpropagation.
"""

from __future__ import annotations

from ..creation import zeros
from ..tensor import Tensor
from . import functional as F
from .module import Module
from .parameter import _empty
from .recurrent import _STEPS, RNNBase, _gru_step, _lstm_step

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


class RNNCellBase(Module):
    """What the cells share: weight_ih, weight_hh, bias_ih, bias_hh and their init."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = _empty(num_chunks * hidden_size, input_size, device=device, dtype=dtype)
        self.weight_hh = _empty(num_chunks * hidden_size, hidden_size, device=device, dtype=dtype)
        if bias:
            self.bias_ih = _empty(num_chunks * hidden_size, device=device, dtype=dtype)
            self.bias_hh = _empty(num_chunks * hidden_size, device=device, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _weights(self) -> tuple:
        return (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None)

    def _prepare(self, name: str, input: Tensor, hx, hidden_name: str = "hidden"):
        """PyTorch's rank checks and unbatching; returns (input, hx list, batched)."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        states = [] if hx is None else (list(hx) if isinstance(hx, (tuple, list)) else [hx])
        for i, h in enumerate(states):
            if h.ndim not in (1, 2):
                label = hidden_name if len(states) == 1 else f"hx[{i}]"
                raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got {h.ndim}D instead")
        batched = input.ndim == 2
        if not batched:
            input, states = input.unsqueeze(0), [h.unsqueeze(0) for h in states]
        _check_cell_input(input, self.input_size)
        for i, h in enumerate(states):
            _check_cell_hidden(input, h, self.hidden_size, i)
        return input, states, batched

    def _zeros(self, input: Tensor) -> Tensor:
        return zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Example:
        >>> import funcgrad.tape as torch
        >>> cell = torch.nn.RNNCell(3, 4)
        >>> h = cell(torch.ones(2, 3))
        >>> h.shape, h.grad_fn.name()
        (torch.Size([2, 4]), 'TanhBackward0')
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):  # fmt: skip
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, states, batched = self._prepare("RNNCell", input, hx)
        h = states[0] if states else self._zeros(input)
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        weights = self._weights()
        # PyTorch's rnn_tanh_cell: act(linear(h, w_hh, b_hh) + linear(x, w_ih, b_ih))
        step = _STEPS["RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"]
        out = step(F.linear(input, weights[0], weights[2]), h, weights)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns (h', c').

    Example:
        >>> import funcgrad.tape as torch
        >>> h, c = torch.nn.LSTMCell(3, 4)(torch.ones(2, 3))
        >>> h.grad_fn.name(), c.grad_fn.name()
        ('MulBackward0', 'AddBackward0')
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        input, states, batched = self._prepare("LSTMCell", input, hx)
        if not states:
            z = self._zeros(input)
            states = [z, z]
        weights = self._weights()
        h, c = _lstm_step(F.linear(input, weights[0], weights[2]), tuple(states), weights)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: PyTorch's gate order (reset, update, new).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.nn.GRUCell(3, 4)(torch.ones(3)).shape
        torch.Size([4])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, states, batched = self._prepare("GRUCell", input, hx)
        h = states[0] if states else self._zeros(input)
        weights = self._weights()
        out = _gru_step(F.linear(input, weights[0], weights[2]), h, weights)
        return out if batched else out.squeeze(0)


# ---------------------------------------------------------------- checks
def _check_cell_input(input: Tensor, input_size: int) -> None:
    if input.shape[1] != input_size:
        raise RuntimeError(
            f"input has inconsistent input_size: got {input.shape[1]} expected {input_size}"
        )


def _check_cell_hidden(input: Tensor, hx: Tensor, hidden_size: int, index: int) -> None:
    if input.shape[0] != hx.shape[0]:
        raise RuntimeError(
            f"Input batch size {input.shape[0]} doesn't match hidden{index} batch size "
            f"{hx.shape[0]}"
        )
    if hx.shape[1] != hidden_size:
        raise RuntimeError(
            f"hidden{index} has inconsistent hidden_size: got {hx.shape[1]}, expected {hidden_size}"
        )
