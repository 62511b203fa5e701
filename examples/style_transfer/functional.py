"""Neural style transfer with JAX: the loss a pure function of the image, optimised by L-BFGS.

The feature network is a Flax module (NHWC) that returns its conv outputs by layer name;
the content and style losses are a pure function of the image. Two optimisers:

- `--optimizer pytorch` (the default): PyTorch's L-BFGS (`funcgrad.lbfgs.lbfgs_step`, a
  port of `torch.optim.LBFGS` with its strong-Wolfe line search) driven by a jitted
  `jax.value_and_grad`: the same algorithm, the same closure (clamp the image to [0, 1],
  evaluate) and the same count of evaluations as the PyTorch forms, so the three
  trajectories compare step by step. `--steps` counts closure evaluations, as there.
- `--optimizer optax`: the idiomatic JAX way, `optax.lbfgs()` with its zoom line search and
  the clamp after each update, the whole loop one `jax.lax.scan` compiled by `jax.jit`, as
  in optax's documented usage with `optax.value_and_grad_from_state`. Its trajectory is
  its own (another line search, a memory of 10 pairs), `--steps` counts its iterations
  (each one or more evaluations), and on CPU it is slow: XLA runs the gradient's
  convolutions inside a loop body several times slower than jitted alone
  (jax-ml/jax#12868), and the clamp, a projection the line search does not know about,
  makes its line searches long (up to 20 evaluations each).

    python -m examples.style_transfer.functional --steps 300 --size 128
    python -m examples.style_transfer.functional --optimizer optax --steps 100
"""

import os
import sys
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from examples.common import progress, report
from examples.style_transfer.data import (
    CONTENT_LAYERS,
    CONTENT_WEIGHT,
    LINE_SEARCH,
    MEAN,
    STD,
    STYLE_LAYERS,
    STYLE_WEIGHT,
    conv_indices,
    feature_weights,
    images,
    save_image,
    style_parser,
)  # fmt: skip
from funcgrad import convert
from funcgrad.lbfgs import lbfgs_step

FORM = os.path.splitext(os.path.basename(__file__))[0]
OPTIMIZERS = ("pytorch", "optax")


def normalize(img):  # NHWC: the channel axis is last
    return (img - jnp.asarray(MEAN)) / jnp.asarray(STD)


def gram_matrix(input):  # (1, H, W, C): PyTorch's features @ features.T, channels last
    a, c, d, b = input.shape  # batch, height, width, channels
    features = input.reshape(a * c * d, b)
    return features.T @ features / (a * b * c * d)


def mse_loss(input, target):
    return jnp.mean((input - target) ** 2)


def max_pool_2x2(x):  # (1, H, W, C) -> (1, H/2, W/2, C): PyTorch's MaxPool2d(2, 2)
    # Not `nn.max_pool`: XLA:CPU runs its reduce_window and, worse, the gradient's
    # select-and-scatter slowly, a third of the whole evaluation at 128 px
    # (benchmarks/README.md). The 2x2 windows at stride 2 do not overlap: the pool is a
    # running maximum over the window's four strided views, elementwise work XLA fuses.
    # A strict `>` keeps the first maximum in window order, as PyTorch's kernel does: the
    # gradient goes to that one input (`jnp.max` would split it between ties, and ties do
    # occur where the clamped image is flat). NaN wins, as there.
    b, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2]  # an odd last row or column is dropped, as there
    window = x.reshape(b, h // 2, 2, w // 2, 2, c)
    out = window[:, :, 0, :, 0]
    for i, j in ((0, 1), (1, 0), (1, 1)):
        candidate = window[:, :, i, :, j]
        out = jnp.where((candidate > out) | jnp.isnan(candidate), candidate, out)
    return out


class VGGFeatures(nn.Module):
    """torchvision's `vgg.make_layers` in Flax: each conv's output (before its ReLU) by name."""

    config: tuple

    @nn.compact
    def __call__(self, x):
        features = {}
        for v in self.config:
            if v == "M":
                x = max_pool_2x2(x)
            else:
                name = f"conv_{len(features) + 1}"
                x = features[name] = nn.Conv(v, (3, 3), padding=1, name=name)(x)
                x = nn.relu(x)
        return features


def to_flax(config: tuple, state: dict) -> dict:
    """The PyTorch-layout weights as Flax variables: OIHW weights become HWIO kernels."""
    params = {}
    for name, index in conv_indices(config).items():
        params[name] = {
            "kernel": jnp.asarray(convert.oihw_to_hwio(state[f"{index}.weight"])),
            "bias": jnp.asarray(state[f"{index}.bias"]),
        }
    return {"params": params}


def style_problem(seed: int, size: int, content: str | None = None, style: str | None = None,
                  weights: str | None = None) -> tuple:  # fmt: skip
    """(the content image, `scores(image, fixed)` -> its style and content losses, `fixed`,
    the features' name).

    `fixed` holds what the losses use but never differentiate: the network's variables and
    the content and style targets. It is an argument of `scores`, not captured by it, so
    that a jitted `scores` takes these arrays as buffers rather than baking them into the
    compiled program as constants (measured: the same speed either way at 128 px, see
    benchmarks/README.md). `jax.value_and_grad(total)` differentiates its first argument
    only, the image: no weight gradient is computed.
    """
    # ---- images and the feature network, from the shared weights
    content_img, style_img = (
        jnp.asarray(convert.nchw_to_nhwc(a)) for a in images(size, content, style)
    )
    config, state, features = feature_weights(seed, weights)
    cnn = VGGFeatures(config)
    variables = to_flax(config, state)

    # ---- the model: the losses a pure function of the image, the targets fixed (computed
    # by one compiled program: run op by op, each conv would be compiled on its own)
    @jax.jit
    def targets(variables, content_img, style_img):
        content = cnn.apply(variables, normalize(content_img))
        style = cnn.apply(variables, normalize(style_img))
        return {n: content[n] for n in CONTENT_LAYERS}, {n: gram_matrix(style[n]) for n in style}

    content_targets, style_targets = targets(variables, content_img, style_img)
    fixed = {"variables": variables, "content": content_targets, "style": style_targets}

    def scores(image, fixed):
        features = cnn.apply(fixed["variables"], normalize(image))
        style_score = sum(mse_loss(gram_matrix(features[n]), fixed["style"][n])
                          for n in STYLE_LAYERS) * STYLE_WEIGHT  # fmt: skip
        content_score = sum(mse_loss(features[n], fixed["content"][n])
                            for n in CONTENT_LAYERS) * CONTENT_WEIGHT  # fmt: skip
        return style_score, content_score

    return content_img, scores, fixed, features


def total_loss_of(scores):
    """`total(image, fixed)`: the style and content losses summed, the L-BFGS objective."""

    def total_loss(image, fixed):
        style_score, content_score = scores(image, fixed)
        return style_score + content_score

    return total_loss


def lbfgs_like_pytorch(value_and_grad, image, steps: int, line_search: str | None = "strong_wolfe",
                       on_evaluation=None) -> tuple:  # fmt: skip
    """PyTorch's `LBFGS(max_iter=steps)` on the image, `steps` closure evaluations.

    The closure is the PyTorch forms': clamp the image to [0, 1], then the loss and its
    gradient (`value_and_grad`, jitted). Returns (the final image, the loss per evaluation).
    """
    shape, losses = image.shape, []

    def closure(x):
        x = jnp.clip(x, 0, 1)  # keep the image a valid image
        loss, grad = value_and_grad(x.reshape(shape))
        losses.append(float(loss))
        if on_evaluation is not None:
            on_evaluation()
        return x, loss, grad.reshape(-1)

    x, state = image.reshape(-1), None
    while len(losses) < steps:  # one step runs them all, unless the loss stops changing
        x, _, state = lbfgs_step(closure, x, state, max_iter=steps, line_search_fn=line_search)
    return jnp.clip(x, 0, 1).reshape(shape), np.asarray(losses)


def lbfgs_with_optax(total_loss, fixed, image, steps: int, on_iteration=None) -> tuple:
    """`optax.lbfgs()` on the image, `steps` iterations, the whole loop one jitted lax.scan.

    `total_loss(image, fixed)` is the objective; `fixed` enters the compiled loop as an
    argument (see `style_problem`).
    """
    optimizer = optax.lbfgs()

    @jax.jit
    def optimise(image, fixed):
        def loss_of(image):
            return total_loss(image, fixed)

        value_and_grad = optax.value_and_grad_from_state(loss_of)

        def iteration(carry, _):
            image, opt_state = carry
            loss, grad = value_and_grad(image, state=opt_state)  # the line search's, if cached
            updates, opt_state = optimizer.update(
                grad, opt_state, image, value=loss, grad=grad, value_fn=loss_of
            )
            stepped = optax.apply_updates(image, updates)
            image = jnp.clip(stepped, 0, 1)  # keep the image a valid image
            # where the clamp moved the image, the cached loss is stale: mark it to recompute
            cached = optax.tree.get(opt_state, "value")
            stale = jnp.any(image != stepped)
            opt_state = optax.tree.set(opt_state, value=jnp.where(stale, jnp.inf, cached))
            if on_iteration is not None:
                jax.debug.callback(on_iteration)  # e.g. a progress bar, from the compiled loop
            return (image, opt_state), loss

        (image, _), losses = jax.lax.scan(iteration, (image, optimizer.init(image)), length=steps)
        return image, losses

    image, losses = optimise(image, fixed)
    return image, np.asarray(losses)


def run(seed: int = 0, steps: int = 300, size: int = 128, content: str | None = None,
        style: str | None = None, weights: str | None = None, out: str = "out/style_transfer",
        line_search: str | None = "strong_wolfe", optimizer: str = "pytorch") -> dict:  # fmt: skip
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    content_img, scores, fixed, features = style_problem(seed, size, content, style, weights)
    total_loss = total_loss_of(scores)

    # ---- the losses and the image's gradient at the start (the gradient w.r.t. the image,
    # the first argument, only)
    initial_style, initial_content = jax.jit(scores)(content_img, fixed)
    value_and_grad = partial(jax.jit(jax.value_and_grad(total_loss)), fixed=fixed)
    initial_grad = value_and_grad(content_img)[1]

    # ---- L-BFGS on the image: PyTorch's algorithm over a jitted closure, or optax's
    bar = progress(range(steps), desc=f"L-BFGS ({optimizer}) steps")
    if optimizer == "pytorch":
        image, losses = lbfgs_like_pytorch(value_and_grad, content_img, steps, line_search,
                                           bar.update)  # fmt: skip
    else:
        image, losses = lbfgs_with_optax(total_loss, fixed, content_img, steps, bar.update)
    bar.close()

    # ---- the final image
    final_style, final_content = jax.jit(scores)(image, fixed)
    return {
        "features": features,
        "optimizer": optimizer,
        "initial_style_loss": float(initial_style),
        "initial_content_loss": float(initial_content),
        "initial_grad": np.asarray(convert.nhwc_to_nchw(initial_grad)),
        "losses": losses,
        "final_style_loss": float(final_style),
        "final_content_loss": float(final_content),
        "final_loss": float(final_style + final_content),
        "image_path": save_image(np.asarray(convert.nhwc_to_nchw(image)), out, FORM),
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is one evaluation of
    the L-BFGS closure (clamp, jitted loss and gradient); the losses are PyTorch's L-BFGS's."""
    content_img, scores, fixed, _ = style_problem(seed, 32 if quick else 128)
    total_loss = total_loss_of(scores)
    value_and_grad = partial(jax.jit(jax.value_and_grad(total_loss)), fixed=fixed)
    last = {}  # the last step's image gradient, what it computed besides the loss

    def step():
        loss, last["image"] = value_and_grad(jnp.clip(content_img, 0, 1))
        return loss

    return {
        "unit": f"L-BFGS closure: loss and image gradient, {tuple(content_img.shape)} (jitted)",
        "grads": lambda: {"image": convert.nhwc_to_nchw(value_and_grad(content_img)[1])},
        "step": step,
        "produced": lambda: last,
        "graph": lambda: jax.jit(lambda x: jax.vjp(partial(total_loss, fixed=fixed), x)[1])(
            content_img
        ),
        "losses": lambda steps, step: list(
            lbfgs_like_pytorch(value_and_grad, content_img, steps)[1][:steps]
        ),  # fmt: skip
    }


def main(argv=None) -> None:
    p = style_parser("Neural style transfer with L-BFGS, JAX.")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="pytorch",
                   help="pytorch: PyTorch's L-BFGS over a jitted closure (default); "
                        "optax: optax.lbfgs in one jitted lax.scan")  # fmt: skip
    args = p.parse_args(argv)
    results = run(args.seed, args.steps, args.size, args.content, args.style, args.weights,
                  args.out, LINE_SEARCH[args.line_search], args.optimizer)  # fmt: skip
    report("style_transfer / functional JAX", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
