"""nn.RNN / LSTM / GRU and their cells (nn/recurrent.py, ops_rnn.py) against real PyTorch.

Each configuration builds a torch module, loads its real state_dict into both libraries'
modules and runs the same input (and initial state) through both with `torch_twin.twin`:
outputs and final states (values and grad_fn names: the graph PyTorch records on CPU),
then the gradients of the input, the initial state and every parameter. Then the module
machinery (parameter names and shapes, repr, init bounds, argument errors) and the case
these layers exist for here: truncated backpropagation through time, where a hidden state
carried into the next iteration without `.detach()` makes the second backward fail with
PyTorch's error, and the detached one trains.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch_twin import arr, raises, twin, warns

import funcgrad.tape as tape
from funcgrad.tape import nn

LAYER_CONFIGS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"batch_first": True},
    {"bias": False},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"num_layers": 2, "dropout": 0.5},  # dropout between layers: off in eval mode
]
CASES = [(cls, kw, "") for cls in ("RNN", "GRU", "LSTM") for kw in LAYER_CONFIGS]
CASES += [("RNN", {"nonlinearity": "relu"}, ""), ("LSTM", {"proj_size": 2}, "")]
CASES += [(cls, {}, how) for cls in ("RNN", "GRU", "LSTM") for how in ("h0", "unbatched",
          "unbatched h0")]  # fmt: skip
CASES += [(cls, kw, how) for cls in ("RNNCell", "GRUCell", "LSTMCell")
          for kw, how in [({}, ""), ({"bias": False}, "h0"), ({}, "unbatched"),
                          ({}, "unbatched h0")]]  # fmt: skip
CASES += [("RNNCell", {"nonlinearity": "relu"}, "h0"), ("LSTM", {"proj_size": 2}, "h0")]


def _shapes(cls, kw, how):
    """(input shape, initial state shapes or None) of a case: T=5, N=2, I=3, H=4."""
    unbatched = "unbatched" in how
    if cls.endswith("Cell"):
        x, h = ((3,), (4,)) if unbatched else ((2, 3), (2, 4))
        states = [h, h] if cls == "LSTMCell" else [h]
    else:
        x = (5, 3) if unbatched else ((2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
        layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
        h_size = kw.get("proj_size", 0) or 4
        h, c = (
            ((layers, h_size), (layers, 4)) if unbatched else ((layers, 2, h_size), (layers, 2, 4))
        )
        states = [h, c] if cls == "LSTM" else [h]
    return x, (states if "h0" in how else None)


def _run(lib, cls, kw, how, state_dict):
    module = getattr(lib.nn, cls)(3, 4, **kw)
    module.load_state_dict(state_dict)
    module.eval()
    x_shape, state_shapes = _shapes(cls, kw, how)
    x = lib.tensor(arr(*x_shape), requires_grad=True)
    states = [
        lib.tensor(arr(*s, seed=i + 1), requires_grad=True)
        for i, s in enumerate(state_shapes or [])
    ]
    if not states:
        out = module(x)
    else:
        out = module(x, tuple(states) if cls in ("LSTM", "LSTMCell") else states[0])
    flat = []
    for o in out if isinstance(out, tuple) else (out,):
        flat.extend(o if isinstance(o, tuple) else (o,))
    loss = sum((o * lib.tensor(arr(*o.shape, seed=10 + i))).sum() for i, o in enumerate(flat))
    loss.backward()
    grads = [x.grad] + [s.grad for s in states] + [p.grad for p in module.parameters()]
    return flat, grads, [name for name, _ in module.named_parameters()]


@pytest.mark.parametrize(("cls", "kw", "how"), CASES, ids=lambda v: str(v) if v != "" else "-")
def test_recurrent_layer_matches_torch(cls, kw, how):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer warns: compared below
        state_dict = getattr(torch.nn, cls)(3, 4, **kw).state_dict()
    twin(_run, cls, kw, how, state_dict, rtol=1e-4, atol=1e-5)


def test_parameter_names_shapes_and_reprs_match_torch():
    def prog(lib):
        modules = [
            lib.nn.RNN(3, 4, 2, "relu", False, True, 0.0, True),
            lib.nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True, dropout=0.3),
            lib.nn.GRU(3, 4, bias=False, batch_first=True),
            lib.nn.RNNCell(3, 4, nonlinearity="relu"),
            lib.nn.LSTMCell(3, 4, bias=False),
            lib.nn.GRUCell(3, 4),
        ]
        return [
            (repr(m), [(k, tuple(v.shape)) for k, v in m.state_dict().items()],
             [[tuple(w.shape) for w in ws] for ws in getattr(m, "all_weights", [])])
            for m in modules
        ]  # fmt: skip

    twin(prog)


def test_default_init_is_uniform_within_one_over_sqrt_hidden_size():
    tape.manual_seed(0)
    for module in (nn.LSTM(20, 64, 2), nn.GRUCell(20, 64)):
        bound = 1 / math.sqrt(64)
        for name, p in module.named_parameters():
            v = p.detach().numpy()
            assert np.abs(v).max() <= bound * (1 + 1e-6), name
            assert np.abs(v).max() > bound * 0.9, name
            assert abs(v.std() - bound / math.sqrt(3)) < 0.2 * bound, name


def test_argument_errors_and_warnings_match_torch():
    def prog(lib):
        n = lib.nn
        rnn, lstm, cell = n.RNN(3, 4), n.LSTM(3, 4), n.LSTMCell(3, 4)
        return [
            raises(n.RNN, 3, 4, nonlinearity="gelu"),
            raises(n.GRU, 3, 4, proj_size=2),
            raises(n.LSTM, 3, 4, proj_size=4),
            raises(n.LSTM, 3, 4, dropout=1.5),
            raises(n.LSTM, 3, 0),
            raises(n.LSTM, 3.0, 4),
            raises(n.LSTM, 3, 4, bias=1),
            raises(n.LSTM, 3, 4, num_layers=0),
            warns(lambda: repr(n.GRU(3, 4, dropout=0.2))),
            raises(rnn, lib.ones(2, 3, 5)),
            raises(rnn, lib.ones(5, 3, 3, 1)),
            raises(rnn, lib.ones(5, 2, 3), lib.ones(1, 3, 4)),
            raises(rnn, lib.ones(5, 2, 3), lib.ones(2, 4)),
            raises(rnn, lib.ones(5, 3), lib.ones(1, 1, 4)),
            raises(lstm, lib.ones(5, 2, 3), (lib.ones(1, 2, 4), lib.ones(1, 3, 4))),
            raises(lstm, lib.ones(5, 2, 3), (lib.ones(2, 4), lib.ones(1, 2, 4))),
            raises(lstm, lib.ones(5, 3), (lib.ones(1, 1, 4), lib.ones(1, 1, 4))),
            raises(cell, lib.ones(2, 2, 3)),
            raises(cell, lib.ones(2, 3), (lib.ones(2, 2, 4), lib.ones(2, 4))),
            raises(cell, lib.ones(2, 5)),
            raises(cell, lib.ones(2, 3), (lib.ones(3, 4), lib.ones(3, 4))),
            raises(n.GRUCell(3, 4), lib.ones(2, 3), lib.ones(2, 5)),
            raises(n.RNNCell(3, 4), lib.ones(2, 3), lib.ones(2, 2, 4)),
            raises(n.RNNCell(3, 4, nonlinearity="gelu"), lib.ones(2, 3)),
        ]

    twin(prog)


def test_dropout_between_layers_in_training_is_a_mul_node_and_is_seeded():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = tape.tensor(arr(5, 2, 3))
    tape.manual_seed(1)
    a, _ = lstm(x)
    tape.manual_seed(1)
    b, _ = lstm(x)
    c, _ = lstm.eval()(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())
    layer_input = a.grad_fn.next_functions[0][0]  # layer 2's input: dropout of layer 1
    assert layer_input.name() == "MulBackward0"


# ---------------------------------------------------------------- truncated BPTT
def _tbptt(lib, cls, detach):
    """Two iterations of truncated BPTT over chunks of one sequence, carrying the state."""
    lib.manual_seed(0)
    layer = getattr(lib.nn, cls)(3, 4)
    state_dict = {k: torch.tensor(arr(*v.shape, seed=i)) for i, (k, v) in
                  enumerate(layer.state_dict().items())}  # fmt: skip
    layer.load_state_dict(state_dict)
    optimizer = lib.optim.SGD(layer.parameters(), lr=0.1)
    hidden, record = None, []
    for step in range(2):
        x = lib.tensor(arr(4, 2, 3, seed=20 + step))
        if cls.endswith("Cell"):
            outs = []
            for t in range(4):
                hidden = layer(x[t], hidden)
                outs.append(hidden[0] if isinstance(hidden, tuple) else hidden)
            output = lib.stack(outs)
        else:
            output, hidden = layer(x, hidden)
        loss = output.pow(2).mean()
        optimizer.zero_grad()
        record.append(raises(loss.backward))
        optimizer.step()
        if detach:
            hidden = (
                tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()
            )
        record.append(loss)
    return record, [p.detach() for p in layer.parameters()]


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("detach", [False, True], ids=["carried", "detached"])
def test_truncated_bptt_fails_like_torch_unless_the_state_is_detached(cls, detach):
    expected, _ = twin(_tbptt, cls, detach, rtol=1e-4, atol=1e-5)
    second = expected[0][2]
    if detach:
        assert second is None  # the backward ran
    else:
        assert "Trying to backward through the graph a second time" in second.message


# ---------------------------------------------------------------- a seq2seq decoder with attention
def _seq2seq(lib):
    """A GRU encoder and an attention GRU decoder with teacher forcing, as in the usual
    translation tutorials: Embedding, GRU(batch_first), additive attention (Linear, tanh,
    softmax, bmm), log_softmax + NLLLoss, one SGD step, then greedy decoding with topk."""
    nn, f = lib.nn, lib.nn.functional
    vocab, hidden, batch, length = 7, 6, 2, 4

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.Wa, self.Ua, self.Va = (nn.Linear(hidden, hidden), nn.Linear(hidden, hidden),
                                         nn.Linear(hidden, 1))  # fmt: skip

        def forward(self, query, keys):
            scores = self.Va(lib.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)
            weights = f.softmax(scores, dim=-1)
            return lib.bmm(weights, keys), weights

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed, self.tgt_embed = (
                nn.Embedding(vocab, hidden),
                nn.Embedding(vocab, hidden),
            )
            self.encoder = nn.GRU(hidden, hidden, batch_first=True)
            self.attention = Attention()
            self.decoder = nn.GRU(2 * hidden, hidden, batch_first=True)
            self.out = nn.Linear(hidden, vocab)
            self.dropout = nn.Dropout(0.1)

        def step(self, token, state, keys):
            embedded = self.dropout(self.tgt_embed(token))
            context, weights = self.attention(state.permute(1, 0, 2), keys)
            output, state = self.decoder(lib.cat((embedded, context), dim=2), state)
            return self.out(output), state, weights

    model = Model()
    model.load_state_dict({k: torch.tensor(arr(*v.shape, seed=i)) for i, (k, v) in
                           enumerate(model.state_dict().items())})  # fmt: skip
    model.eval()  # (dropout off: its masks are not PyTorch's bits)
    src = lib.tensor(np.array([[1, 2, 3, 4], [4, 3, 2, 1]]))
    tgt = lib.tensor(np.array([[2, 3, 4, 5], [5, 4, 3, 2]]))
    # (SGD, not Adam: the attention's Va.bias gets a gradient of rounding noise only, as
    # softmax ignores a shift of all scores, which Adam would scale up to a full step.)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.5)
    keys, state = model.encoder(model.src_embed(src))
    token = lib.empty(batch, 1, dtype=lib.long).fill_(0)
    outputs = []
    for i in range(length):
        out, state, _ = model.step(token, state, keys)
        outputs.append(out)
        token = tgt[:, i].unsqueeze(1)  # teacher forcing
    logp = f.log_softmax(lib.cat(outputs, dim=1), dim=-1)
    loss = nn.NLLLoss()(logp.view(-1, logp.size(-1)), tgt.view(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with lib.no_grad():
        keys, state = model.encoder(model.src_embed(src))
        token, decoded = lib.zeros(batch, 1, dtype=lib.long), []
        for _ in range(length):
            out, state, weights = model.step(token, state, keys)
            _, top = out.topk(1)
            token = top.squeeze(-1).detach()
            decoded.append(token)
    return loss, [p.detach() for p in model.parameters()], lib.cat(decoded, 1), weights


def test_seq2seq_attention_decoder_trains_and_decodes_like_torch():
    twin(_seq2seq, rtol=1e-4, atol=1e-5)
