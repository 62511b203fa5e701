"""torch.save / torch.load on the tape against real PyTorch, both directions, weights only.

Files funcgrad writes must load in PyTorch with `weights_only=True` (values, dtypes,
containers, Parameters); files PyTorch writes (zip and legacy formats, views, shared
storages, optimizer states) must load on the tape; safetensors files load both ways; and a
hostile or damaged file gets PyTorch's error, without running anything from the file.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import ml_dtypes
import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import funcgrad.tape as tape
from funcgrad import checkpoint


def as_numpy(t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    data = np.asarray(t._data)
    return data.astype(np.float32) if data.dtype == ml_dtypes.bfloat16 else data


def assert_same_tree(ours, ref):
    """Same containers (types, keys, order), same scalars, same tensor values and dtypes
    (integers only as integers: the tape may hold int64 in 32 bits)."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, tape.Tensor), type(ours)
        assert isinstance(ours, tape.nn.Parameter) == isinstance(ref, torch.nn.Parameter)
        assert ours.requires_grad == ref.requires_grad
        a, b = as_numpy(ours), as_numpy(ref)
        assert a.shape == b.shape
        assert (a.dtype.kind in "iu") == (b.dtype.kind in "iu") and a.dtype.kind == b.dtype.kind
        if a.dtype.kind == "f":
            assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(ref, dict):
        assert type(ours) is type(ref)
        assert list(ours) == list(ref)
        for k in ref:
            assert_same_tree(ours[k], ref[k])
        if hasattr(ref, "_metadata"):
            assert ours._metadata == ref._metadata
    elif isinstance(ref, (list, tuple)):
        assert type(ours) is type(ref) and len(ours) == len(ref)
        for a, b in zip(ours, ref):
            assert_same_tree(a, b)
    else:
        assert type(ours) is type(ref) and ours == ref


def build(lib):
    """A checkpoint of every supported kind, built alike in both libraries."""
    rng = np.random.default_rng(0)
    weight = lib.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    return {
        "model": collections.OrderedDict(
            [("w", weight), ("b", lib.tensor(np.zeros(3, np.float32)))]
        ),
        "same": weight,  # saved twice: shares the storage
        "param": lib.nn.Parameter(lib.tensor([1.0, -2.0])),
        "frozen": lib.nn.Parameter(lib.tensor([3.0]), requires_grad=False),
        "leaf": lib.tensor([0.5, 1.5], requires_grad=True),
        "dtypes": [
            lib.tensor([1, 2, 3], dtype=lib.int32),
            lib.tensor([[True, False]]),
            lib.tensor([1.5, 2.5], dtype=lib.float16),
            lib.tensor([1.5, 2.5], dtype=lib.bfloat16),
            lib.tensor([7, 255], dtype=lib.uint8),
            lib.tensor(3.25),
            lib.zeros(0, 5),
        ],
        "numbers": (1, -7, 2**70, 0.1, float("inf"), 1 + 2j, True, None),
        "text": ("name", b"\x00bytes\xff", ""),
        "set": {1, 2, 3},
        "nested": {"a": [{"b": (lib.tensor([9.0]),)}], 3: "int key"},
    }


def test_what_funcgrad_saves_loads_in_torch_with_weights_only(tmp_path):
    path = tmp_path / "ours.pt"
    tape.save(build(tape), path)
    loaded = torch.load(path, weights_only=True)
    expected = build(torch)
    assert_same_tree(tape.load(path), expected)  # and it reads back
    assert loaded.keys() == expected.keys()
    for key in expected:
        if key == "set":
            assert loaded[key] == expected[key]
            continue
        _assert_torch_tree(loaded[key], expected[key])
    shared = loaded["same"].untyped_storage(), loaded["model"]["w"].untyped_storage()
    assert shared[0].data_ptr() == shared[1].data_ptr()
    mapped = torch.load(path, weights_only=True, mmap=True)  # storages are 64-byte aligned
    torch.testing.assert_close(mapped["model"]["w"], expected["model"]["w"])


def _assert_torch_tree(ours, ref):
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, torch.Tensor)
        assert isinstance(ours, torch.nn.Parameter) == isinstance(ref, torch.nn.Parameter)
        assert ours.requires_grad == ref.requires_grad
        assert ours.shape == ref.shape
        assert ours.dtype == ref.dtype or (ours.dtype, ref.dtype) == (torch.int32, torch.int64)
        torch.testing.assert_close(ours.detach(), ref.detach().to(ours.dtype))
    elif isinstance(ref, dict):
        assert type(ours) is type(ref) and list(ours) == list(ref)
        for k in ref:
            _assert_torch_tree(ours[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert type(ours) is type(ref) and len(ours) == len(ref)
        for a, b in zip(ours, ref):
            _assert_torch_tree(a, b)
    else:
        assert ours == ref


def test_what_torch_saves_loads_on_the_tape(tmp_path):
    path = tmp_path / "theirs.pt"
    reference = build(torch)
    torch.save(reference, path)
    assert_same_tree(tape.load(path), reference)
    legacy = tmp_path / "legacy.pt"
    torch.save(reference, legacy, _use_new_zipfile_serialization=False)
    assert_same_tree(tape.load(legacy), reference)
    buffer = io.BytesIO()
    torch.save(reference, buffer)
    buffer.seek(0)
    assert_same_tree(tape.load(buffer), reference)


def test_views_and_transposes_saved_by_torch_load_as_their_values(tmp_path):
    base = torch.arange(24.0).reshape(4, 6)
    views = {"t": base.t(), "slice": base[1:3, ::2], "row": base[2], "base": base}
    torch.save(views, tmp_path / "views.pt")
    loaded = tape.load(tmp_path / "views.pt")
    for key, value in views.items():
        np.testing.assert_array_equal(as_numpy(loaded[key]), value.numpy())


def test_torch_model_optimizer_and_scheduler_state_load_and_training_continues_alike(tmp_path):
    # No bias before the batch norm: its gradient is rounding noise that Adam scales up.
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8, bias=False),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 1),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
    torch.save(state, tmp_path / "ck.pt")

    ck = tape.load(tmp_path / "ck.pt")
    ours = tape.nn.Sequential(
        tape.nn.Linear(4, 8, bias=False),
        tape.nn.BatchNorm1d(8),
        tape.nn.ReLU(),
        tape.nn.Linear(8, 1),
    )
    ours.load_state_dict(ck["model"])
    ours_opt = tape.optim.Adam(ours.parameters(), lr=0.5)
    ours_opt.load_state_dict(ck["opt"])
    assert ours_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    ours_sched = tape.optim.lr_scheduler.CosineAnnealingLR(ours_opt, T_max=5)
    ours_sched.load_state_dict(ck["sched"])
    tx, ty = tape.tensor(x.numpy()), tape.tensor(y.numpy())
    for _ in range(3):
        for lib, m, o, s, a, b in (
            (torch, model, opt, sched, x, y),
            (tape, ours, ours_opt, ours_sched, tx, ty),
        ):
            o.zero_grad()
            lib.nn.functional.mse_loss(m(a), b).backward()
            o.step()
            s.step()
        assert ours_sched.get_last_lr() == sched.get_last_lr()
    for (name, a), (_, b) in zip(ours.state_dict().items(), model.state_dict().items()):
        np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize(
    ("optimizer", "kwargs"),
    [
        ("SGD", dict(lr=0.1, momentum=0.9)),
        ("Adam", dict(lr=0.01)),
        ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ],
)
def test_tape_model_optimizer_and_scheduler_state_continue_in_torch(tmp_path, optimizer, kwargs):
    """The other direction: the tape trains and saves; torch loads the checkpoint
    (weights_only) into its own model, optimizer and scheduler, and both continue alike."""

    def build_all(lib):
        model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1))
        opt = getattr(lib.optim, optimizer)(model.parameters(), **kwargs)
        warmup = lib.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        decay = lib.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        sched = lib.optim.lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
        return model, opt, sched

    def train(lib, model, opt, sched, x, y, steps):
        for _ in range(steps):
            opt.zero_grad()
            lib.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            sched.step()

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 4), np.float32), rng.standard_normal((16, 1), np.float32)
    tape.manual_seed(0)
    ours = build_all(tape)
    tx, ty = tape.tensor(x), tape.tensor(y)
    train(tape, *ours, tx, ty, 3)
    model, opt, sched = ours
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
    tape.save(state, tmp_path / "tape.pt")

    ck = torch.load(tmp_path / "tape.pt", weights_only=True)
    theirs = build_all(torch)
    theirs[0].load_state_dict(ck["model"])
    theirs[1].load_state_dict(ck["opt"])
    theirs[2].load_state_dict(ck["sched"])
    assert theirs[2].get_last_lr() == sched.get_last_lr()
    train(tape, *ours, tx, ty, 4)
    train(torch, *theirs, torch.from_numpy(x), torch.from_numpy(y), 4)
    assert theirs[2].get_last_lr() == sched.get_last_lr()
    for (name, a), (_, b) in zip(model.state_dict().items(), theirs[0].state_dict().items()):
        np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=1e-5, atol=1e-6, err_msg=name)


def test_tape_checkpoint_round_trip_resumes_training_identically(tmp_path):
    tape.manual_seed(0)
    model = tape.nn.Linear(3, 2)
    opt = tape.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = tape.optim.lr_scheduler.StepLR(opt, step_size=2)
    x = tape.randn(5, 3)

    def train(m, o, s, steps):
        for _ in range(steps):
            o.zero_grad()
            m(x).pow(2).mean().backward()
            o.step()
            s.step()

    train(model, opt, sched, 3)
    tape.save(
        {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()},
        tmp_path / "tape.pt",
    )
    train(model, opt, sched, 3)
    ck = tape.load(tmp_path / "tape.pt")
    twin = tape.nn.Linear(3, 2)
    twin.load_state_dict(ck["model"])
    twin_opt = tape.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    twin_opt.load_state_dict(ck["opt"])
    twin_sched = tape.optim.lr_scheduler.StepLR(twin_opt, step_size=2)
    twin_sched.load_state_dict(ck["sched"])
    train(twin, twin_opt, twin_sched, 3)
    for a, b in zip(twin.parameters(), model.parameters()):
        np.testing.assert_array_equal(as_numpy(a), as_numpy(b))


# --------------------------------------------------------------------------- safetensors
def test_safetensors_files_load_both_ways(tmp_path):
    tensors = {
        "a": torch.arange(6.0).reshape(2, 3),
        "b": torch.ones(2, dtype=torch.bfloat16),
        "c": torch.tensor([1, 2], dtype=torch.int64),
        "d": torch.tensor([True]),
        "e": torch.zeros(0, 2, dtype=torch.float16),
    }
    safetensors.torch.save_file(tensors, tmp_path / "x.safetensors", metadata={"k": "v"})
    loaded = tape.load(tmp_path / "x.safetensors")
    assert sorted(loaded) == sorted(tensors)
    for name, value in tensors.items():
        assert_same_tree(loaded[name], value)
    ours = {"w": np.arange(4, dtype=np.float16), "m": np.eye(2, dtype=np.float32)}
    (tmp_path / "y.safetensors").write_bytes(
        checkpoint.safetensors_format.write(ours, {"note": "funcgrad"})
    )
    back = safetensors.numpy.load_file(tmp_path / "y.safetensors")
    for name, value in ours.items():
        np.testing.assert_array_equal(back[name], value)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:6],  # shorter than its header
        lambda d: (10**9).to_bytes(8, "little") + d[8:],  # header length past the end
        lambda d: d[:-3],  # data section too short for the header's offsets
        lambda d: d[:8] + d[8:].replace(b"F32", b"Q99", 1),  # unknown dtype
    ],
    ids=["short", "header-length", "truncated-data", "dtype"],
)
def test_damaged_safetensors_files_raise_a_clear_error(tmp_path, damage):
    data = checkpoint.safetensors_format.write({"w": np.ones(4, np.float32)})
    (tmp_path / "bad.safetensors").write_bytes(damage(data))
    with pytest.raises(ValueError, match="invalid safetensors file"):
        tape.load(tmp_path / "bad.safetensors")


# --------------------------------------------------------------------------- hostile files
class _Shell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _error(fn, *args):
    try:
        fn(*args)
    except Exception as e:  # the point is to compare any exception
        return type(e), str(e)
    raise AssertionError("no error")


def test_pickles_that_run_code_are_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"w": torch.ones(2), "evil": _Shell(marker)}, tmp_path / "evil.pt")
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"evil": _Shell(marker)}, protocol=2))
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a whole module, not weights
    for name in ("evil.pt", "evil.pkl", "module.pt"):
        kind, message = _error(tape.load, tmp_path / name)
        ref_kind, ref_message = _error(torch.load, tmp_path / name)
        assert kind is ref_kind is pickle.UnpicklingError
        assert message.startswith("Weights only load failed.") and ref_message.startswith(
            "Weights only load failed."
        )
        assert "Unsupported global: GLOBAL" in message and "\n[funcgrad]" in message
    assert not marker.exists()


def test_damaged_checkpoints_get_torchs_errors(tmp_path):
    torch.save({"w": torch.ones(3, 2)}, tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with (
        zipfile.ZipFile(tmp_path / "good.pt") as source,
        zipfile.ZipFile(tmp_path / "short.pt", "w") as damaged,
    ):
        for info in source.infolist():
            payload = source.read(info.filename)
            damaged.writestr(info.filename, payload[:8] if "/data/" in info.filename else payload)
    for name in ("truncated.pt", "short.pt"):
        assert _error(tape.load, tmp_path / name) == _error(torch.load, tmp_path / name)


def test_a_layout_outside_its_storage_is_refused():
    stream = io.BytesIO()
    checkpoint.save({"w": np.ones(2, np.float32)}, stream)
    edited = io.BytesIO()
    with zipfile.ZipFile(stream) as source, zipfile.ZipFile(edited, "w") as target:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename.endswith("data.pkl"):  # the shape (2,) becomes (9,)
                payload = payload.replace(b"K\x02\x85", b"K\x09\x85", 1)
            target.writestr(info.filename, payload)
    edited.seek(0)
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 8"):
        tape.load(edited)


def test_a_file_that_is_no_checkpoint_says_so(tmp_path):
    (tmp_path / "notes.txt").write_bytes(b"hello")
    with pytest.raises(pickle.UnpicklingError, match=r"invalid load key, 'h'\.\n\[funcgrad\]"):
        tape.load(tmp_path / "notes.txt")
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        tape.load(tmp_path / "notes.txt", pickle_module=pickle)


def test_objects_that_torch_could_not_load_weights_only_are_not_saved():
    with pytest.raises(TypeError, match="cannot save an object of type"):
        tape.save({"fn": print}, io.BytesIO())
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="refer to themselves"):
        tape.save(loop, io.BytesIO())


# --------------------------------------------------------------------------- the example
def test_style_transfer_weights_read_torchvision_checkpoints_and_safetensors(tmp_path):
    from examples.style_transfer.data import VGG19, _shapes, feature_weights, used_layers

    rng = np.random.default_rng(0)
    arrays = {
        name: rng.standard_normal(shape).astype(np.float32)
        for name, shape in _shapes(used_layers(VGG19)).items()
    }
    np.savez(tmp_path / "vgg.npz", **arrays)
    as_torch = {f"features.{k}": torch.from_numpy(v) for k, v in arrays.items()}
    as_torch["classifier.0.weight"] = torch.zeros(2, 2)  # the rest of vgg19's checkpoint
    torch.save(as_torch, tmp_path / "vgg19-dcbbb69a.pth")
    safetensors.torch.save_file(
        {k: torch.from_numpy(v) for k, v in arrays.items()}, tmp_path / "vgg.safetensors"
    )
    _, expected, _ = feature_weights(0, str(tmp_path / "vgg.npz"))
    for name in ("vgg19-dcbbb69a.pth", "vgg.safetensors"):
        _, state, description = feature_weights(0, str(tmp_path / name))
        assert description.startswith("VGG19 features from")
        assert state.keys() == expected.keys()
        for key in expected:
            np.testing.assert_array_equal(state[key], expected[key])
