"""PyTorch's recurrent layers `RNN`, `LSTM`, `GRU` (the cells `RNNCell`, `LSTMCell`,
`GRUCell` are in rnn_cells.py, on the same steps), with PyTorch's arguments, parameter
names (`weight_ih_l0`, ..., `bias_hh_l1_reverse`), gate order, default initialisation
U(-1/sqrt(H), 1/sqrt(H)), checks and error texts, so a real PyTorch state_dict loads into
them.

The graph each one records is the one PyTorch records on CPU, because that graph decides
when a second backward fails (the truncated-BPTT case: a hidden state carried into the
next iteration without `h = h.detach()` makes that iteration's backward run into the
previous iteration's freed nodes, and fail with PyTorch's "Trying to backward through the
graph a second time"):

- RNN, GRU, the cells, and LSTMs PyTorch does not run through oneDNN (float64, or with
  `proj_size`) are composed step by step of table ops exactly as PyTorch's C++ composes
  them: the input projection of all steps at once (`AddmmBackward0`, then `unbind`), per
  step a `linear` of the hidden state, the gates (`UnsafeSplitBackward0`,
  `SigmoidBackward0`, ...), outputs stacked (`StackBackward0`), directions concatenated
  (`CatBackward0`), dropout between layers (`MulBackward0`).
- A float32 LSTM is, as in PyTorch on CPU, one `MkldnnRnnLayerBackward0` node per layer and
  direction (`ops_rnn.py`: a `jax.lax.scan` over the sequence).

Not supported: `PackedSequence` inputs (`nn.utils.rnn`).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import errors
from ..creation import zeros
from ..functions import cat, stack
from ..tensor import Tensor, apply
from . import functional as F, init
from .module import Module
from .parameter import _empty

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]


# ---------------------------------------------------------------- one step of each cell
# x_w: the input already projected (x @ w_ih.T + b_ih), as PyTorch's CPU layers do for
# all steps at once. weights: (w_ih, w_hh, b_ih, b_hh, w_hr), biases and w_hr may be None.
def _rnn_step(activation):
    def step(x_w, h, weights):
        return activation(F.linear(h, weights[1], weights[3]) + x_w)

    return step


def _gru_step(x_w, h, weights):
    r_i, z_i, n_i = x_w.unsafe_chunk(3, 1)
    r_h, z_h, n_h = F.linear(h, weights[1], weights[3]).unsafe_chunk(3, 1)
    reset = (r_h + r_i).sigmoid()
    update = (z_h + z_i).sigmoid()
    new = (n_i + n_h * reset).tanh()
    return (h - new) * update + new


def _lstm_step(x_w, state, weights):
    h, c = state
    gates = F.linear(h, weights[1], weights[3]) + x_w
    i, f, g, o = gates.unsafe_chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if weights[4] is not None:  # the projection of proj_size
        h = h.matmul(weights[4].t())
    return h, c


_STEPS = {
    "RNN_TANH": _rnn_step(lambda x: x.tanh()),
    "RNN_RELU": _rnn_step(lambda x: x.relu()),
    "GRU": _gru_step,
    "LSTM": _lstm_step,
}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _onednn_layer(x, state, weights, reverse):
    """A float32 LSTM layer and direction as PyTorch's CPU oneDNN kernel: one node."""
    w_ih, w_hh, b_ih, b_hh, _ = weights
    h0, c0 = state
    b_ih, b_hh = (0.0 if b is None else b for b in (b_ih, b_hh))
    out, h, c = apply("mkldnn_rnn_layer", x, w_ih, w_hh, b_ih, b_hh, h0, c0, reverse=reverse)
    return out, (h, c)


def _run_layer(mode, x, state, weights, reverse):
    """One layer and direction over the sequence x (T, N, I), composed of table ops.
    Returns (output (T, N, H), final state)."""
    step = _STEPS[mode]
    inputs = F.linear(x, weights[0], weights[2]).unbind(0)
    order = range(len(inputs) - 1, -1, -1) if reverse else range(len(inputs))
    outputs = [None] * len(inputs)
    for t in order:
        state = step(inputs[t], state, weights)
        outputs[t] = state[0] if mode == "LSTM" else state
    return stack(outputs, 0), state


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, checks, the layer stack (PyTorch's)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        _check_rnn_args(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size)
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = {
                    "weight_ih": (gate_size, layer_input),
                    "weight_hh": (gate_size, real_hidden),
                }
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size > 0:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, _empty(*shape, device=device, dtype=dtype))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN weight packing: nothing to do on JAX."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _weights(self, layer: int, direction: int) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of a layer and direction; absent ones None."""
        suffix = "_reverse" if direction == 1 else ""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        return tuple(getattr(self, f"{n}_l{layer}{suffix}", None) for n in names)

    # ------------------------------------------------------------ PyTorch's checks
    def check_input(self, input: Tensor, batch_sizes=None) -> None:
        if input.dtype != self._flat_weights[0].dtype:
            weight = self._flat_weights[0].dtype
            raise ValueError(
                f"RNN input dtype ({_dtype(input.dtype)}) does not match weight dtype "
                f"({_dtype(weight)}). Convert input: input.to({_dtype(weight)}), or convert "
                f"model: model.to({_dtype(input.dtype)})"
            )
        if input.ndim != 3:
            raise RuntimeError(f"input must have 3 dimensions, got {input.ndim}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.shape[-1]}"
            )

    def get_expected_hidden_size(self, input: Tensor, batch_sizes=None) -> tuple:
        batch = input.shape[0] if self.batch_first else input.shape[1]
        directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * directions, batch, size)

    def check_hidden_size(self, hx, expected, msg="Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != tuple(expected):
            raise RuntimeError(msg.format(tuple(expected), list(hx.shape)))

    def check_forward_args(self, input: Tensor, hidden: Tensor, batch_sizes=None) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    # ------------------------------------------------------------ the layer stack
    def _unbatch(self, input: Tensor, ndim_error: str):
        """PyTorch's handling of unbatched input and of the hidden state's rank."""
        if not isinstance(input, Tensor):
            raise NotImplementedError(
                errors.UNSUPPORTED.format(what="PackedSequence input to RNNs")
            )
        if input.ndim not in (2, 3):
            raise ValueError(ndim_error.format(ndim=input.ndim))
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        return input, batched

    def _stack(self, input: Tensor, states: list, onednn: bool = False) -> tuple:
        """Runs all layers and directions; states: per (layer, direction). Returns the
        output (batch_first as given) and the final states in the same order. Each layer
        and direction is composed of table ops, or (onednn) one MkldnnRnnLayerBackward0."""
        x = input.transpose(0, 1) if self.batch_first else input
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                state = states[layer * directions + direction]
                weights = self._weights(layer, direction)
                if onednn:
                    out, final = _onednn_layer(x, state, weights, direction == 1)
                else:
                    out, final = _run_layer(self.mode, x, state, weights, direction == 1)
                outputs.append(out)
                finals.append(final)
            x = outputs[0] if directions == 1 else cat(outputs, outputs[0].ndim - 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        if self.batch_first:  # PyTorch transposes its composed result in place
            x = x.transpose(0, 1) if onednn else x.transpose_(0, 1)
        return x, finals

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    Example:
        >>> import funcgrad.tape as torch
        >>> rnn = torch.nn.RNN(3, 4, num_layers=2)
        >>> output, h_n = rnn(torch.ones(5, 2, 3))
        >>> output.shape, h_n.shape, output.grad_fn.name()
        (torch.Size([5, 2, 4]), torch.Size([2, 2, 4]), 'StackBackward0')
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise ValueError(
                f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(modes[self.nonlinearity], *args, **kwargs)

    _ndim_error = "RNN: Expected input to be 2D or 3D, got {ndim}D tensor instead"

    def forward(self, input: Tensor, hx: Tensor | None = None):
        input, batched = self._unbatch(input, self._ndim_error)
        hx = _hidden_rank(hx, batched)
        if hx is None:
            hx = self._zeros(input, self.hidden_size)
        self.check_forward_args(input, hx)
        output, finals = self._stack(input, list(hx.unbind(0)))
        hidden = stack(finals, 0)
        if not batched:
            output, hidden = output.squeeze(0 if self.batch_first else 1), hidden.squeeze(1)
        return output, hidden

    def _zeros(self, input: Tensor, size: int) -> Tensor:
        batch = input.shape[0] if self.batch_first else input.shape[1]
        layers = self.num_layers * (2 if self.bidirectional else 1)
        return zeros(layers, batch, size, dtype=input.dtype, device=input.device)


class GRU(RNN):
    """Gated recurrent unit, PyTorch's gate order (reset, update, new) and formula
    h_t = (1 - z) * n + z * h_{t-1}.

    Example:
        >>> import funcgrad.tape as torch
        >>> gru = torch.nn.GRU(3, 4, batch_first=True)
        >>> output, h_n = gru(torch.ones(2, 5, 3))
        >>> output.shape, h_n.shape
        (torch.Size([2, 5, 4]), torch.Size([1, 2, 4]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        RNNBase.__init__(self, "GRU", *args, **kwargs)

    _ndim_error = "GRU: Expected input to be 2D or 3D, got {ndim}D instead"


class LSTM(RNN):
    """Long short-term memory, PyTorch's gate order (input, forget, cell, output), with
    optional projections (proj_size). Returns output, (h_n, c_n).

    Example:
        >>> import funcgrad.tape as torch
        >>> lstm = torch.nn.LSTM(3, 4)
        >>> output, (h_n, c_n) = lstm(torch.ones(5, 2, 3))
        >>> output.grad_fn.name(), h_n.grad_fn.name()
        ('MkldnnRnnLayerBackward0', 'StackBackward0')
    """

    def __init__(self, *args, **kwargs):
        RNNBase.__init__(self, "LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input: Tensor, batch_sizes=None) -> tuple:
        batch = input.shape[0] if self.batch_first else input.shape[1]
        return (self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)

    def check_forward_args(self, input: Tensor, hidden: tuple, batch_sizes=None) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(
            hidden[0],
            self.get_expected_hidden_size(input, batch_sizes),
            "Expected hidden[0] size {}, got {}",
        )
        self.check_hidden_size(
            hidden[1],
            self.get_expected_cell_size(input, batch_sizes),
            "Expected hidden[1] size {}, got {}",
        )

    _ndim_error = "LSTM: Expected input to be 2D or 3D, got {ndim}D instead"

    def forward(self, input: Tensor, hx: tuple | None = None):
        input, batched = self._unbatch(input, self._ndim_error)
        if hx is None:
            real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
            hx = (self._zeros(input, real_hidden), self._zeros(input, self.hidden_size))
        else:
            want = 3 if batched else 2
            if hx[0].ndim != want or hx[1].ndim != want:
                raise RuntimeError(
                    f"For {'batched 3' if batched else 'unbatched 2'}-D input, hx and cx "
                    f"should also be {want}-D but got ({hx[0].ndim}-D, {hx[1].ndim}-D) tensors"
                )
            if not batched:
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx)
        states = list(zip(hx[0].unbind(0), hx[1].unbind(0)))
        output, finals = self._stack(input, states, onednn=self._uses_onednn(input))
        h_n = stack([h for h, _ in finals], 0)
        c_n = stack([c for _, c in finals], 0)
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return output, (h_n, c_n)

    def _uses_onednn(self, input: Tensor) -> bool:
        """PyTorch's use_mkldnn on CPU: float32, no projections, a non-empty input."""
        return np.dtype(input.dtype) == np.float32 and self.proj_size == 0 and input.numel() > 0


# ---------------------------------------------------------------- checks and helpers
def _dtype(dtype) -> str:
    return f"torch.{np.dtype(dtype).name}"


def _hidden_rank(hx, batched: bool):
    if hx is None:
        return None
    if batched and hx.ndim != 3:
        raise RuntimeError(
            f"For batched 3-D input, hx should also be 3-D but got {hx.ndim}-D tensor"
        )
    if not batched:
        if hx.ndim != 2:
            raise RuntimeError(
                f"For unbatched 2-D input, hx should also be 2-D but got {hx.ndim}-D tensor"
            )
        return hx.unsqueeze(1)
    return hx


def _check_rnn_args(input_size, hidden_size, num_layers, bias, batch_first, dropout, proj_size):
    """PyTorch's argument checks of RNNBase, in its order, with its texts."""
    if (
        not isinstance(dropout, numbers.Number)
        or not 0 <= dropout <= 1
        or isinstance(dropout, bool)
    ):
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an "
            "element being zeroed"
        )
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero "
            f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=4,
        )
    for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                              ("input_size", input_size, int),
                              ("hidden_size", hidden_size, int)):  # fmt: skip
        if not isinstance(value, kind):
            raise TypeError(
                f"{name} should be of type {kind.__name__}, got: {type(value).__name__}"
            )
        if kind is int and value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
