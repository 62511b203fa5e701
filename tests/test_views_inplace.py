"""In-place writes through views, against PyTorch: values of the base and of every view,
the shared version counter, the rewritten graph (CopySlices on the base, AsStridedBackward0
on the views, with `next_functions`), gradients to the base's history and to the written
value, and PyTorch's errors (views of leaves, of no_grad mode, of multi-output ops,
expanded views, inference tensors).

Oracle: real PyTorch (torch 2.13, CPU), run at test time on the same program (see
torch_twin.py).
"""

from __future__ import annotations

import pytest
from torch_twin import arr, raises, twin


def graph(t, depth=3):
    """The graph under t's grad_fn as nested (class name, output_nr, children) tuples."""

    def walk(node, nr, left):
        if node is None:
            return None
        children = () if left == 0 else tuple(walk(n, i, left - 1) for n, i in node.next_functions)
        return (type(node).__name__, nr, children)

    return walk(t.grad_fn, 0, depth)


def leaf_and_base(lib, shape=(3, 4), seed=0):
    a = lib.tensor(arr(*shape, seed=seed), requires_grad=True)
    return a, a * 1.5


# ---------------------------------------------------------------- writes through one view
VIEW_WRITES = {
    "select mul_": lambda lib, y, w: y[0].mul_(2),
    "chained index assignment": lambda lib, y, w: y[0].__setitem__(1, 7.0),
    "slice of all mul_": lambda lib, y, w: y[:].mul_(2),
    "view add_": lambda lib, y, w: y.view(12).add_(w.view(-1).repeat(3)),
    "reshape add_": lambda lib, y, w: y.reshape(2, 6).add_(1.0),
    "narrow copy_": lambda lib, y, w: y.narrow(1, 1, 2).copy_(w[:2]),
    "select dim 1 sub_": lambda lib, y, w: y.select(1, 2).sub_(w[:3]),
    "diagonal zero_": lambda lib, y, w: y.diagonal().zero_(),
    "offset diagonal fill_": lambda lib, y, w: y.diagonal(1).fill_(3.0),
    "transpose mul_ tensor": lambda lib, y, w: y.t().mul_(w[:3]),
    "transpose method": lambda lib, y, w: y.transpose(0, 1)[1:3].div_(2.0),
    "permute unsqueeze squeeze": lambda lib, y, w: (
        y.unsqueeze(0).permute(2, 0, 1).squeeze(1)[0].add_(w[:3])
    ),
    "index assignment of a tensor": lambda lib, y, w: y.__setitem__(1, w),
    "slice assignment": lambda lib, y, w: y.__setitem__((slice(None), 0), 0.0),
    "masked update of a slice": lambda lib, y, w: y[:, 1:].masked_fill_(y[:, 1:] > 0, 0.0),
    "step slice clamp_": lambda lib, y, w: y[::2, 1::2].clamp_(-0.2, 0.2),
    "advanced index put on a view": lambda lib, y, w: y[1].__setitem__(
        lib.tensor([0, 2]), lib.tensor([5.0, 6.0])
    ),
    "exp_ of a row": lambda lib, y, w: y[2].exp_(),
    "+= on a view": lambda lib, y, w: y[1].__iadd__(w),
}


def write_through_view(lib, case):
    a, y = leaf_and_base(lib)
    w = lib.tensor(arr(4, seed=5), requires_grad=True)
    other = y.t()  # another view of the base: sees the write
    VIEW_WRITES[case](lib, y, w)
    out = (y * y).sum() + (other * 2).sum()
    out.backward()
    return {
        "y": y,
        "other view": other,
        "versions": (y._version, other._version),
        "y graph": graph(y),
        "other graph": graph(other, depth=1),
        "a.grad": a.grad,
        "w.grad": w.grad,
    }


@pytest.mark.parametrize("case", VIEW_WRITES)
def test_writes_through_views_follow_pytorch(case):
    twin(write_through_view, case)


def view_keeps_following_its_base(lib):
    """The written view is the new history of the base, and every view recomputes."""
    a, y = leaf_and_base(lib)
    v = y[0]
    u = y[:, 1]
    v.mul_(3)  # v: AsStridedBackward0 on CopySlices
    first = (v.grad_fn, graph(v), graph(u), u.clone())
    y.add_(1)  # an in-place op of the base itself: views follow it
    second = (graph(v), graph(u), v.clone(), u.clone(), v._version)
    (v.sum() * 2 + u.sum() + y.sum()).backward()
    return first[1:], second, a.grad, type(v._version).__name__


def test_views_follow_writes_of_their_base():
    twin(view_keeps_following_its_base)


def no_grad_write_of_a_leaf_view(lib):
    """The optimizer's case: under no_grad, a leaf is written through its views."""
    a = lib.tensor(arr(3, 4), requires_grad=True)
    d = a.detach()
    with lib.no_grad():
        a[0].mul_(0)
        a[1:, 2] = 9.0
        a.view(12)[5].fill_(-1.0)
    row = a[2]
    (a * a).sum().backward()
    return a, d, row, a._version, a.grad_fn, a.is_leaf, a.grad


def test_no_grad_writes_through_a_leafs_views():
    twin(no_grad_write_of_a_leaf_view)


def written_value_gets_its_gradient(lib):
    x = lib.zeros(3, 4)
    w = lib.tensor(arr(4, seed=2), requires_grad=True)
    v = x[1]
    v.mul_(w)  # x does not require grad: CopySlices has (None, 0) for it
    x[2] = w * 2
    x[0, 1:3] = w[:2]
    (x * lib.tensor(arr(3, 4, seed=3))).sum().backward()
    return x, graph(x), graph(v, depth=1), w.grad, x.requires_grad, x.is_leaf


def test_the_written_value_gets_its_gradient():
    twin(written_value_gets_its_gradient)


def saved_tensors_see_writes_through_views(lib):
    a, y = leaf_and_base(lib)
    q = y * y  # saves y
    y[0].zero_()
    base_saved = raises(q.sum().backward)
    a2, y2 = leaf_and_base(lib, seed=1)
    v = y2[0]
    s = v.sin()  # saves v
    y2.mul_(2)
    view_saved = raises(s.sum().backward)
    a3, y3 = leaf_and_base(lib, seed=2)
    r = y3[1].exp()  # saves its result, not y3
    y3[0].zero_()
    r.sum().backward()
    return base_saved, view_saved, a3.grad


def test_saved_tensors_see_writes_through_views():
    twin(saved_tensors_see_writes_through_views)


def detached_views_share_storage(lib):
    x = lib.tensor(arr(2, 3))
    d = x.detach()
    d[0].add_(1)
    e = x[1].detach()
    e.mul_(2)
    y = lib.tensor(arr(2, 3), requires_grad=True) * 2
    yd = y.detach()
    yd.view(6)[0:2].zero_()
    return x, d, e, x._version, y, graph(y), y._version


def test_writes_through_detached_views_reach_the_storage():
    twin(detached_views_share_storage)


def second_backward_through_copy_slices(lib):
    a, y = leaf_and_base(lib)
    y[0].mul_(2)
    out = y.sum()
    out.backward(retain_graph=True)
    out.backward()
    return a.grad


def test_copy_slices_backward_twice_with_retain_graph():
    twin(second_backward_through_copy_slices)


# ---------------------------------------------------------------- errors
def view_errors(lib):
    a, y = leaf_and_base(lib)
    out = {}
    out["view of a leaf"] = raises(lambda: a[0].add_(1))
    out["view of a leaf, view()"] = raises(lambda: a.view(12).add_(1))
    out["index assignment on a leaf"] = raises(lambda: a.__setitem__(0, 1.0))
    out["expanded"] = raises(lambda: y[0:1].expand(3, 4).add_(1))
    e = lib.zeros(1, 4).expand(3, 4)
    out["expanded, no grad"] = raises(lambda: e.mul_(2))
    e[0].add_(1)  # one row of the expansion does not overlap
    out["row of an expansion"] = (e.clone(), e._version)
    for name, parts in [
        ("unbind", lambda t: t.unbind(0)),
        ("split", lambda t: t.split(2)),
        ("split sizes", lambda t: t.split([1, 2])),
        ("chunk", lambda t: t.chunk(3)),
    ]:
        out[name] = raises(lambda parts=parts: parts(y * 1)[0].add_(1))
        out[name + ", view of it"] = raises(lambda parts=parts: parts(y * 1)[1][1:].add_(1))
        z = y * 1
        pieces = parts(z)
        z.mul_(2)
        out[name + ", base written"] = raises(lambda pieces=pieces: pieces[0] * 1)
    with lib.no_grad():
        pieces = (y * 1).unbind(0)
        pieces[0].add_(1)  # allowed under no_grad
    out["multi-output under no_grad"] = pieces[0]
    zero_pieces = lib.zeros(3, 4).unbind(0)
    zero_pieces[0].add_(1)  # allowed: nothing requires grad
    out["multi-output, no grad needed"] = zero_pieces[0]
    with lib.no_grad():
        nv = y[0]
    out["no_grad view"] = raises(lambda: nv.add_(1))
    out["view of a no_grad view"] = raises(lambda: nv[1:].add_(1))
    with lib.no_grad():
        la = a[0]
        a.mul_(1)
    out["no_grad view, base written"] = raises(lambda: la.grad_fn)
    with lib.inference_mode():
        it = lib.ones(3, 4)
        inside = it[0]
    out["inference view"] = raises(lambda: inside.add_(1))
    out["view of an inference tensor"] = raises(lambda: it[1].mul_(2))
    out["inference tensor"] = raises(lambda: it.mul_(2))
    out["detach_ of a view"] = raises(lambda: y[0].detach_())
    return out


def test_view_write_errors_follow_pytorch():
    twin(view_errors)


def test_version_reads_as_an_int_shared_by_views():
    def prog(lib):
        x = lib.zeros(2, 3)
        v = x[0]
        t = x.t()
        v.add_(1)
        t.mul_(2)
        x[1] = 4.0
        return x._version, v._version, t._version, type(x._version).__name__, x, v, t

    twin(prog)


def test_increment_version_invalidates_saved_tensors_and_views():
    def prog(lib):
        a, y = leaf_and_base(lib)
        v = y[0]
        q = y.sin()  # saves y
        lib.autograd.graph.increment_version(y)
        lib.autograd.graph.increment_version([a])
        return y._version, v._version, graph(v, depth=1), raises(q.sum().backward), a._version

    twin(prog)


def test_backward_with_empty_inputs_raises_pytorchs_text():
    def prog(lib):
        x = lib.ones(2, requires_grad=True)
        return (
            raises(lambda: (x * 2).sum().backward(inputs=[])),
            raises(lambda: lib.autograd.backward([(x * 2).sum()], inputs=[])),
            raises(lambda: lib.autograd.grad((x * 2).sum(), [])),
        )

    twin(prog)
