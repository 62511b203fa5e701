"""`grad_fn._saved_<name>` / `_raw_saved_<name>` and `next_functions` on the tape, against
real PyTorch at run time: for the op cases of test_ops.py, every saved attribute the tape
answers has PyTorch's name and value (a saved input is the input tensor itself; the
result a tensor on the node), and for most of them the tape answers all of PyTorch's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_ops import TORCH_CASES, _torch_case_inputs
from torch_twin import arr, raises, twin

import funcgrad.tape as tape

# Cases where PyTorch's node keeps something the tape does not compute or names otherwise
# (its result next to the inputs, indices, slicing bounds): the README's known differences.
PARTIAL = {
    "rsub", "rdiv", "pow_tensor", "rpow", "square", "log_softmax", "matmul_3d_3d", "matmul",
    "max", "max_dim", "amax", "logsumexp", "std", "norm", "squeeze_dim", "split",
    "split_with_sizes", "gather", "select", "slice", "index",
}  # fmt: skip


class _Close:
    """Tensor values compared with float32 tolerance."""

    def __init__(self, array):
        self.array = np.asarray(array, dtype=np.float64)

    def __eq__(self, other):
        return self.array.shape == other.array.shape and np.allclose(
            self.array, other.array, rtol=1e-5, atol=1e-6
        )

    def __repr__(self):
        return repr(self.array)


def _saved_attributes(lib, name):
    xs = [lib.tensor(a, requires_grad=True) for a in _torch_case_inputs(name)]
    y = TORCH_CASES[name][1](lib, *xs)
    node = y.grad_fn
    found = {}
    for attr in dir(node):
        if not attr.startswith("_saved_"):
            continue
        value = getattr(node, attr)
        if isinstance(value, (torch.Tensor, tape.Tensor)):
            inputs = [i for i, x in enumerate(xs) if value is x]
            if inputs:
                value = f"input {inputs[0]}"
            else:
                value = (
                    "tensor",
                    tuple(value.shape),
                    _Close(value.detach().numpy()),
                    value.grad_fn is node,
                )
        found[attr] = value
    return found


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_saved_attributes_have_pytorchs_names_and_values(name):
    expected, got = _saved_attributes(torch, name), _saved_attributes(tape, name)
    for attr, value in got.items():
        assert attr in expected, f"{attr} is not an attribute of PyTorch's node"
        assert value == expected[attr], attr
    if name not in PARTIAL:
        assert got.keys() == expected.keys()


def test_saved_tensors_as_pytorch_reads_them():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        c = lib.tensor(arr(3, seed=1))
        m = x * c
        e = x.exp()
        p = x**3
        return (
            m.grad_fn._saved_self,  # None: x's gradient does not need it
            m.grad_fn._saved_other is c,
            e.grad_fn._saved_result,
            p.grad_fn._saved_self is x,
            p.grad_fn._saved_exponent,
            raises(getattr, m.grad_fn, "_saved_mat2"),
        )

    twin(prog)


def test_saved_tensors_after_backward_or_an_in_place_change_raise_pytorchs_errors():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        y = x * 1
        z = y * y
        freed = x.sin()
        freed.sum().backward()
        after_free = raises(getattr, freed.grad_fn, "_saved_self")
        y.add_(1)
        return after_free, raises(getattr, z.grad_fn, "_saved_self")

    twin(prog)


def test_raw_saved_tensor_hooks_pack_now_and_unpack_at_backward():
    def prog(lib):
        log = []
        x = lib.tensor(arr(3), requires_grad=True)
        y = x * x.cos()
        raw = y.grad_fn._raw_saved_self
        raw.register_hooks(
            lambda t: (log.append(("pack", tuple(t.shape))), t * 1)[1],
            lambda t: (log.append("unpack"), t)[1],
        )
        log.append("backward")
        y.sum().backward()
        return log, x.grad

    twin(prog)


def test_next_functions_structure():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        w = lib.tensor(arr(3, seed=2), requires_grad=True)
        c = lib.tensor(arr(3, seed=3))
        y = ((x * c + w.exp()) @ x).sin()

        def shape(fn):
            if fn is None:
                return None
            return (type(fn).__name__, [(shape(f), i) for f, i in fn.next_functions])

        acc = y.grad_fn.next_functions[0][0].next_functions[1][0]
        return shape(y.grad_fn), acc.variable is x, acc.next_functions

    twin(prog)
