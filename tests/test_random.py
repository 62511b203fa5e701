"""funcgrad.tape's random generator against real PyTorch: same seed, same numbers, same state.

Every test seeds both libraries alike, draws, and compares the values bit for bit (the
values PyTorch's CPU kernels produce, not a distribution), and the generator state
(`get_rng_state`, PyTorch's 5056 bytes). The one exception is float32 `randn` of 16 or more
elements on CPUs where PyTorch does not run its AVX2 kernel: there PyTorch calls the C
library's `logf`/`cosf`/`sinf`, which funcgrad rounds from float64 (last-bit differences).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch_twin import raises, twin

import funcgrad.tape as tape
from funcgrad.tape.random import box_muller, sampling

SEEDS = [0, 1, 7, 42, 1234, 2**32 + 5, 2**63 - 1, 2**64 - 1]
SIZES = [1, 2, 3, 15, 16, 17, 31, 33, 100, 625, 1237]
AVX2 = box_muller.cpu_capability() == "avx2"


def values(t) -> np.ndarray:
    """A tensor's values as numpy (bfloat16 as float32)."""
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    data = np.asarray(t._data)
    return data.astype(np.float32) if data.dtype.name == "bfloat16" else data


def assert_same_values(ours, ref, *, ulp=0):
    ours, ref = values(ours), values(ref)
    assert ours.shape == ref.shape
    ref = ref.astype(ours.dtype)  # int64 / float64 where the tape holds 32 bits
    if ulp and np.issubdtype(ours.dtype, np.floating):
        np.testing.assert_array_max_ulp(ours, ref, maxulp=ulp)
    else:
        np.testing.assert_array_equal(ours, ref)


def both(seed, draw, *args, ulp=0):
    """Seeds both libraries, draws with draw(lib, *args), compares the values and the final
    generator state."""
    torch.manual_seed(seed)
    ref = draw(torch, *args)
    tape.manual_seed(seed)
    ours = draw(tape, *args)
    refs, ourss = (ref, ours) if isinstance(ref, tuple) else ((ref,), (ours,))
    for a, b in zip(ourss, refs, strict=True):
        assert_same_values(a, b, ulp=ulp)
    np.testing.assert_array_equal(values(tape.get_rng_state()), values(torch.get_rng_state()))


def test_cpu_kernel_detection_matches_torch():
    expected = torch.backends.cpu.get_cpu_capability().lower()
    expected = expected if expected in ("avx2", "avx512") else "default"
    assert box_muller.cpu_capability() == expected


def test_seeded_state_is_pytorchs_byte_for_byte():
    for seed in SEEDS:
        torch.manual_seed(seed)
        tape.manual_seed(seed)
        assert tape.initial_seed() == torch.initial_seed() == seed
        assert_same_values(tape.get_rng_state(), torch.get_rng_state())
        assert tape.get_rng_state().dtype == tape.uint8


@pytest.mark.parametrize("size", SIZES)
def test_rand_matches_torch(size):
    for seed in SEEDS[:5]:
        both(seed, lambda lib: lib.rand(size))
        both(seed, lambda lib: lib.rand(size, dtype=lib.float64))
        both(seed, lambda lib: lib.rand(size, 2, dtype=lib.float16))
        both(seed, lambda lib: lib.rand(size, dtype=lib.bfloat16))


@pytest.mark.parametrize("size", SIZES)
def test_randn_matches_torch_on_both_paths(size):
    # Fewer than 16 elements: PyTorch's scalar Box-Muller (double, one value cached);
    # 16 or more: its vectorised float kernel.
    ulp = 0 if AVX2 or size < 16 else 1
    for seed in SEEDS[:5]:
        both(seed, lambda lib: lib.randn(size), ulp=ulp)
        both(seed, lambda lib: lib.randn(size, dtype=lib.float64))
        both(seed, lambda lib: lib.randn(size, dtype=lib.float16))
        both(seed, lambda lib: lib.randn(2, size, dtype=lib.bfloat16))


def test_scalar_normal_cache_carries_over_between_calls_like_torch():
    def draw(lib):
        return lib.randn(3), lib.randn(1), lib.randn(20), lib.randn(5), lib.rand(2), lib.randn(1)

    for seed in SEEDS:
        both(seed, draw, ulp=0 if AVX2 else 1)


def test_normal_and_uniform_with_parameters_match_torch():
    ulp = 0 if AVX2 else 1
    for seed in SEEDS[:4]:
        for size in (5, 16, 100):
            both(seed, lambda lib, n: lib.empty(n).normal_(0.3, 0.02), size, ulp=ulp)
            both(seed, lambda lib, n: lib.empty(n).uniform_(-0.37, 0.41), size)
            both(seed, lambda lib, n: lib.normal(1.5, 3.0, size=(n,), dtype=lib.float64), size)
            both(seed, lambda lib, n: lib.normal(2.0, 3.0, size=(n,)), size, ulp=ulp)
            both(seed, lambda lib, n: lib.normal(lib.zeros(n), lib.ones(n) * 2), size, ulp=ulp)


def test_like_functions_match_torch():
    def draw(lib):
        x = lib.zeros(4, 5)
        return lib.rand_like(x), lib.randn_like(x), lib.randint_like(x, 3, 9)

    for seed in SEEDS[:4]:
        both(seed, draw, ulp=0 if AVX2 else 1)


@pytest.mark.parametrize("bounds", [(0, 10), (-5, 5), (3, 2**28 + 3), (-(2**40), 2**40)])
def test_randint_matches_torch(bounds):
    low, high = bounds
    for seed in SEEDS[:5]:
        both(seed, lambda lib: lib.randint(low, high, (37,)))
        if max(abs(low), abs(high)) <= 2**24:  # PyTorch warns and rounds the bounds beyond
            both(seed, lambda lib: lib.randint(low, high, (2, 3), dtype=lib.float32))
    if low == 0:
        both(0, lambda lib: lib.randint(high, (5,)))
        both(0, lambda lib: lib.randint(high=high, size=(5,)))


@pytest.mark.parametrize("n", [0, 1, 2, 10, 1000])
def test_randperm_matches_torch(n):
    for seed in SEEDS[:5]:
        both(seed, lambda lib: lib.randperm(n))


def test_bernoulli_and_dropout_match_torch():
    probs = np.linspace(0, 1, 50, dtype=np.float32)
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8)
    for seed in SEEDS[:5]:
        both(seed, lambda lib: lib.empty(301).bernoulli_(0.3))
        both(seed, lambda lib: lib.bernoulli(lib.tensor(probs)))
        both(seed, lambda lib: lib.empty(50).bernoulli_(lib.tensor(probs)))
        both(seed, lambda lib: lib.bernoulli(lib.ones(7), 0.6))
        for p in (0.1, 0.5, 0.9):
            both(seed, lambda lib, p: lib.nn.functional.dropout(lib.tensor(x), p), p)
            both(seed, lambda lib, p: lib.nn.Dropout(p)(lib.tensor(x)), p)


def test_random_fill_matches_torch():
    for seed in SEEDS[:4]:
        both(seed, lambda lib: lib.zeros(20).random_(3, 11))
        both(seed, lambda lib: lib.zeros(20).random_(7))
        both(seed, lambda lib: lib.zeros(20, dtype=lib.int32).random_())
        both(seed, lambda lib: lib.zeros(20).random_())


def test_a_program_of_mixed_draws_matches_torch():
    def draw(lib):
        out = []
        for i in range(6):
            out += [lib.rand(i + 1), lib.randn(i * 7 + 1), lib.randint(0, 100, (i + 2,))]
            out += [lib.randperm(i + 3), lib.empty(i + 4).bernoulli_(0.5)]
        return tuple(out)

    for seed in SEEDS:
        both(seed, draw, ulp=0 if AVX2 else 1)


# --------------------------------------------------------------------------- Generator objects
def test_generator_argument_draws_from_that_generator_only():
    for lib in (torch, tape):
        lib.manual_seed(5)
    ref_state = torch.get_rng_state()
    g_ref, g_ours = torch.Generator().manual_seed(3), tape.Generator().manual_seed(3)
    assert_same_values(tape.rand(7, generator=g_ours), torch.rand(7, generator=g_ref))
    assert_same_values(tape.randn(33, generator=g_ours), torch.randn(33, generator=g_ref))
    assert_same_values(tape.randperm(9, generator=g_ours), torch.randperm(9, generator=g_ref))
    assert_same_values(g_ours.get_state(), g_ref.get_state())
    assert_same_values(tape.get_rng_state(), ref_state)  # the default stream is untouched


def test_generator_defaults_and_seeds_match_torch():
    g_ref, g_ours = torch.Generator(), tape.Generator()
    assert g_ours.initial_seed() == g_ref.initial_seed()
    assert_same_values(g_ours.get_state(), g_ref.get_state())
    assert g_ours.manual_seed(-1) is g_ours
    g_ref.manual_seed(-1)
    assert g_ours.initial_seed() == g_ref.initial_seed() == 2**64 - 1
    assert_same_values(tape.rand(3, generator=g_ours), torch.rand(3, generator=g_ref))
    seeded = tape.seed()
    assert tape.initial_seed() == seeded and 0 <= seeded < 2**64
    assert tape.Generator().seed() != tape.Generator().seed()
    assert str(g_ours.device) == "TFRT_CPU_0" or "cpu" in str(g_ours.device).lower()


def test_state_round_trips_and_crosses_libraries():
    torch.manual_seed(11)
    torch.randn(3)  # leaves a cached normal value in the state
    state = torch.get_rng_state()
    tape.set_rng_state(state)  # a real torch.ByteTensor
    assert_same_values(tape.randn(5), torch.randn(5))
    ours = tape.get_rng_state()
    torch.set_rng_state(torch.from_numpy(values(ours).copy()))
    assert_same_values(tape.rand(4), torch.rand(4))
    saved = tape.get_rng_state()
    first = tape.randn(40)
    tape.set_rng_state(saved)
    assert_same_values(tape.randn(40), first)


def _seed_and_state_errors(lib):
    g = lib.Generator()
    return [
        raises(g.manual_seed, True),
        raises(g.manual_seed, 1.5),
        raises(g.manual_seed, 2**64),
        raises(g.manual_seed, -(2**63) - 1),
        raises(g.set_state, lib.zeros(10, dtype=lib.uint8)),
        raises(g.set_state, lib.zeros(5056)),
        raises(g.set_state, lib.zeros(5056, dtype=lib.uint8)),
        raises(g.set_state, [1, 2]),
    ]


def test_seed_and_state_errors_match_torch():
    twin(_seed_and_state_errors)


def _sampler_errors(lib):
    return [
        raises(lib.rand, 2, -1),
        raises(lib.rand, 2, dtype=lib.int64),
        raises(lib.randn, 2, dtype=lib.int32),
        raises(lib.randint, 5, 2, (3,)),
        raises(lib.randint, 0, 0, (3,)),
        raises(lib.randint, 0, 10),
        raises(lib.randperm, -1),
        raises(lambda: lib.empty(3).uniform_(2, 1)),
        raises(lambda: lib.empty(3).normal_(0, -1)),
        raises(lambda: lib.empty(2).bernoulli_(1.5)),
        raises(lambda: lib.bernoulli(lib.tensor([1.5]))),
        raises(lambda: lib.zeros(3).random_(4, 2)),
    ]


def test_sampler_errors_match_torch():
    twin(_sampler_errors)


def test_generator_on_another_device_is_refused_with_the_alternative():
    with pytest.raises(NotImplementedError, match="CPU generators only"):
        tape.Generator(device="cuda")


# --------------------------------------------------------------------------- nn.init, layers
def _parameters(model):
    return [p for _, p in sorted(model.named_parameters())]


@pytest.mark.parametrize(
    "build",
    [
        lambda nn: nn.Linear(20, 7),
        lambda nn: nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()),
        lambda nn: nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 300), nn.Linear(300, 2)),
    ],
    ids=["linear", "conv", "embedding-mlp"],
)
def test_default_initialisation_of_layers_is_pytorchs(build):
    for seed in SEEDS[:4]:
        both(seed, lambda lib: tuple(_parameters(build(lib.nn))))


@pytest.mark.parametrize(
    "init",
    [
        lambda lib, w: lib.nn.init.uniform_(w, -0.2, 0.3),
        lambda lib, w: lib.nn.init.normal_(w, 0.1, 0.02),
        lambda lib, w: lib.nn.init.xavier_uniform_(w),
        lambda lib, w: lib.nn.init.xavier_normal_(w, gain=2.0),
        lambda lib, w: lib.nn.init.kaiming_uniform_(w, nonlinearity="relu"),
        lambda lib, w: lib.nn.init.kaiming_normal_(w, mode="fan_out"),
        lambda lib, w: lib.nn.init.trunc_normal_(w, std=0.02),
        lambda lib, w: lib.nn.init.trunc_normal_(w, mean=0.0, std=1.0, a=1.5, b=3.0),
    ],
    ids=["uniform", "normal", "xavier_u", "xavier_n", "kaiming_u", "kaiming_n", "trunc", "tail"],
)
def test_nn_init_draws_pytorchs_values(init):
    ulp = 0 if AVX2 else 1
    for seed in SEEDS[:4]:
        for shape in ((30, 20), (3, 4)):
            both(seed, lambda lib, shape: init(lib, lib.empty(*shape)), shape, ulp=ulp)


def test_trunc_normal_warning_matches_torch():
    for lib in (torch, tape):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.init.trunc_normal_(lib.empty(3), mean=5.0, std=1.0, a=-1.0, b=1.0)
        messages = [str(w.message) for w in caught]
        if lib is torch:
            expected = messages
    assert messages == expected and messages


# --------------------------------------------------------------------------- inside tape.jit
def test_draws_inside_a_compiled_step_continue_the_eager_stream():
    x = tape.ones(8, 8)

    def step(x):
        mask = tape.nn.functional.dropout(x, 0.3)
        return mask, tape.rand(5), tape.randn(40), tape.randn(3), tape.randint(0, 9, (4,))

    compiled = tape.jit(step)
    tape.manual_seed(0)
    eager = [step(x) for _ in range(3)]
    eager_state = tape.get_rng_state()
    tape.manual_seed(0)
    traced = [compiled(x) for _ in range(3)]
    for e_call, t_call in zip(eager, traced, strict=True):
        for e, t in zip(e_call, t_call, strict=True):  # float32 math for the double draws
            np.testing.assert_allclose(values(t), values(e), rtol=1e-6, atol=1e-6)
    ours, ref = tape.Generator(), tape.Generator().set_state(eager_state)
    ours.set_state(tape.get_rng_state())
    ours, ref = ours._state_arrays(), ref._state_arrays()
    # The engine's words and position are exact; the cached normal value differs in the
    # float32 rounding of the traced scalar path.
    for name in ("key", "pos", "valid"):
        np.testing.assert_array_equal(ours[name], ref[name])
    np.testing.assert_allclose(ours["normal"], ref["normal"], rtol=1e-6)
    assert compiled.trace_count == 1


def test_compiled_randperm_matches_eager():
    compiled = tape.jit(lambda: tape.randperm(12))
    tape.manual_seed(4)
    eager = [tape.randperm(12) for _ in range(2)]
    tape.manual_seed(4)
    for e in eager:
        np.testing.assert_array_equal(values(compiled()), values(e))


def test_sampler_helpers_draw_pytorchs_words():
    torch.manual_seed(9)
    ref = int(torch.empty((), dtype=torch.int64).random_().item())
    assert sampling.random_int64(tape.Generator().manual_seed(9)) == ref
