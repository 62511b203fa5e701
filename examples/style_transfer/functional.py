"""Neural style transfer with JAX: the loss a pure function of the image, L-BFGS jitted whole.

The feature network is a Flax module (NHWC) that returns its conv outputs by layer name;
the content and style losses are a pure function of the image, and the whole optimisation
(`--steps` iterations of `optax.lbfgs()`, each followed by the clamp to [0, 1]) is one
`jax.lax.scan` compiled by `jax.jit`, as in optax's documented L-BFGS usage with
`optax.value_and_grad_from_state`.

The starting weights, images, losses and initial gradient are the same as the PyTorch
program's, but the trajectory is not: optax's L-BFGS searches each step with a zoom line
search (Nocedal and Wright's, with its own initial step and memory of 10 pairs), PyTorch's
with its strong-Wolfe search (memory of 100). `--steps` here counts L-BFGS iterations, each
one or more loss evaluations; in the PyTorch forms it counts closure evaluations.

On CPU this form is the slowest of the three: XLA runs the convolutions of the gradient
inside a loop body several times slower than jitted alone (jax-ml/jax#12868), and the
clamp, a projection the line search does not know about, makes the line searches long (up
to 20 evaluations each; without the clamp they take one or two).

    python -m examples.style_transfer.functional --steps 300 --size 128
"""

import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from examples.common import progress, report
from examples.style_transfer.data import (
    CONTENT_LAYERS,
    CONTENT_WEIGHT,
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

FORM = os.path.splitext(os.path.basename(__file__))[0]


def normalize(img):  # NHWC: the channel axis is last
    return (img - jnp.asarray(MEAN)) / jnp.asarray(STD)


def gram_matrix(input):  # (1, H, W, C): PyTorch's features @ features.T, channels last
    a, c, d, b = input.shape  # batch, height, width, channels
    features = input.reshape(a * c * d, b)
    return features.T @ features / (a * b * c * d)


def mse_loss(input, target):
    return jnp.mean((input - target) ** 2)


class VGGFeatures(nn.Module):
    """torchvision's `vgg.make_layers` in Flax: each conv's output (before its ReLU) by name."""

    config: tuple

    @nn.compact
    def __call__(self, x):
        features = {}
        for v in self.config:
            if v == "M":
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
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


def run(seed: int = 0, steps: int = 300, size: int = 128, content: str | None = None,
        style: str | None = None, weights: str | None = None,
        out: str = "out/style_transfer") -> dict:  # fmt: skip
    # ---- images and the feature network, from the shared weights
    content_img, style_img = (
        convert.nchw_to_nhwc(jnp.asarray(a)) for a in images(size, content, style)
    )
    config, state, features = feature_weights(seed, weights)
    cnn = VGGFeatures(config)
    variables = to_flax(config, state)

    # ---- the model: the losses a pure function of the image, the targets fixed
    content_targets = cnn.apply(variables, normalize(content_img))
    style_targets = {
        n: gram_matrix(f) for n, f in cnn.apply(variables, normalize(style_img)).items()
    }

    def scores(image):
        features = cnn.apply(variables, normalize(image))
        style_score = sum(mse_loss(gram_matrix(features[n]), style_targets[n])
                          for n in STYLE_LAYERS) * STYLE_WEIGHT  # fmt: skip
        content_score = sum(mse_loss(features[n], content_targets[n])
                            for n in CONTENT_LAYERS) * CONTENT_WEIGHT  # fmt: skip
        return style_score, content_score

    def total_loss(image):
        style_score, content_score = scores(image)
        return style_score + content_score

    # ---- the losses and the image's gradient at the start
    initial_style, initial_content = jax.jit(scores)(content_img)
    initial_grad = jax.jit(jax.grad(total_loss))(content_img)

    # ---- L-BFGS on the image: the whole loop one jitted lax.scan
    optimizer = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(total_loss)
    bar = progress(range(steps), desc="L-BFGS iterations")

    def iteration(carry, _):
        image, opt_state = carry
        loss, grad = value_and_grad(image, state=opt_state)  # the line search's, if cached
        updates, opt_state = optimizer.update(
            grad, opt_state, image, value=loss, grad=grad, value_fn=total_loss
        )
        stepped = optax.apply_updates(image, updates)
        image = jnp.clip(stepped, 0, 1)  # keep the image a valid image
        # where the clamp moved the image, the cached loss is stale: mark it to recompute
        cached = optax.tree.get(opt_state, "value")
        stale = jnp.any(image != stepped)
        opt_state = optax.tree.set(opt_state, value=jnp.where(stale, jnp.inf, cached))
        jax.debug.callback(bar.update)  # the progress bar, ticked from inside the compiled loop
        return (image, opt_state), loss

    @jax.jit
    def optimise(image):
        (image, _), losses = jax.lax.scan(iteration, (image, optimizer.init(image)), length=steps)
        return image, losses

    image, losses = optimise(content_img)
    bar.close()

    # ---- the final image
    final_style, final_content = jax.jit(scores)(image)
    return {
        "features": features,
        "initial_style_loss": float(initial_style),
        "initial_content_loss": float(initial_content),
        "initial_grad": np.asarray(convert.nhwc_to_nchw(initial_grad)),
        "losses": np.asarray(losses),
        "final_style_loss": float(final_style),
        "final_content_loss": float(final_content),
        "final_loss": float(final_style + final_content),
        "image_path": save_image(np.asarray(convert.nhwc_to_nchw(image)), out, FORM),
    }


def main(argv=None) -> None:
    args = style_parser("Neural style transfer with L-BFGS, JAX.").parse_args(argv)
    results = run(args.seed, args.steps, args.size, args.content, args.style, args.weights,
                  args.out)  # fmt: skip
    report("style_transfer / functional JAX", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
