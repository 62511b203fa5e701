"""The op table's recurrent entry: one LSTM layer over a whole sequence, as one node.

On CPU, PyTorch runs a float32 `nn.LSTM` through oneDNN: each layer and direction is one
`mkldnn_rnn_layer` call, recorded as one `MkldnnRnnLayerBackward0` node whose inputs are
(input, w_ih, w_hh, b_ih, b_hh, h0, c0) and whose outputs are (output, h_n, c_n, and a
workspace this table leaves out). This entry is that node: the layer's JAX function runs
the recurrence with `jax.lax.scan` (in reverse for the backward direction), and its
backward is `jax.vjp` of it, as for every op. It saves what PyTorch saves: the inputs and
the results. (RNN, GRU, the cells, and LSTMs that PyTorch does not send to oneDNN are
composed step by step of table ops in `nn/recurrent.py`, as PyTorch composes them.)

Gate order is PyTorch's: input, forget, cell, output.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._op import S, register

__all__ = []


def _lstm_layer(x, w_ih, w_hh, b_ih, b_hh, h0, c0, reverse=False):
    """x: (T, N, I); h0, c0: (N, H). Returns (output (T, N, H), h_T, c_T)."""
    x_proj = x @ w_ih.T + b_ih  # all steps at once, as PyTorch does on CPU

    def step(carry, x_t):
        h, c = carry
        gates = x_t + h @ w_hh.T + b_hh
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    (h, c), out = jax.lax.scan(step, (h0, c0), x_proj, reverse=reverse)
    return out, h, c


register(
    "mkldnn_rnn_layer",
    _lstm_layer,
    "MkldnnRnnLayerBackward0",
    "all+result",
    multi=True,
    sample=S((3, 2, 4), (12, 4), (12, 3), (12,), (12,), (2, 3), (2, 3), reverse=True),
)
