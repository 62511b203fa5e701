"""Neural style transfer in PyTorch: content and style losses inside a VGG-style network.

The tutorial program as PyTorch users know it (Gatys et al., "A Neural Algorithm of
Artistic Style"): `ContentLoss` and `StyleLoss` (a Gram matrix) modules are inserted after
chosen conv layers of a feature network; each stores its loss and passes its input on.
The image itself is optimised with L-BFGS, starting from the content image and clamped to
[0, 1] before each evaluation. The feature network is a fixed-seed random one unless
`--weights` gives VGG19's (see data.py).

One change from the tutorial: L-BFGS searches its steps (`line_search_fn="strong_wolfe"`).
With the tutorial's fixed step (`--line-search none`), the loss on the random features
jumps from step to step and often ends in an image whose every pixel is clamped to 0 or 1
(or in NaN); with the line search each step descends. `--steps` counts closure evaluations
(the line search may add a few past it).

    python -m examples.style_transfer.torch_ref --steps 300 --size 128
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim

from examples.common import progress, report
from examples.style_transfer.data import (
    CONTENT_LAYERS,
    CONTENT_WEIGHT,
    LINE_SEARCH,
    MEAN,
    STD,
    STYLE_LAYERS,
    STYLE_WEIGHT,
    feature_weights,
    images,
    save_image,
    style_parser,
)  # fmt: skip

FORM = os.path.splitext(os.path.basename(__file__))[0]


class Normalization(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)  # (C, 1, 1), broadcast over H and W
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, img):
        return (img - self.mean) / self.std


def gram_matrix(input):
    a, b, c, d = input.size()  # batch, channels, height, width
    features = input.view(a * b, c * d)
    G = torch.mm(features, features.t())
    return G.div(a * b * c * d)


class ContentLoss(nn.Module):
    def __init__(self, target):
        super().__init__()
        self.target = target.detach()  # a fixed target, not part of the graph

    def forward(self, input):
        self.loss = F.mse_loss(input, self.target)
        return input


class StyleLoss(nn.Module):
    def __init__(self, target_feature):
        super().__init__()
        self.target = gram_matrix(target_feature).detach()

    def forward(self, input):
        self.loss = F.mse_loss(gram_matrix(input), self.target)
        return input


def vgg_features(config):
    """torchvision's `vgg.make_layers`: 3x3 convs with ReLUs, "M" a 2x2 max pool."""
    layers, channels = [], 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers)


def style_model_and_losses(cnn, content_img, style_img):
    model = nn.Sequential(Normalization(MEAN, STD))
    content_losses, style_losses = [], []
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)  # in place would overwrite what the losses read
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool_{i}"
        else:
            raise RuntimeError(f"Unrecognized layer: {layer.__class__.__name__}")
        model.add_module(name, layer)
        if name in CONTENT_LAYERS:
            content_loss = ContentLoss(model(content_img).detach())
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses.append(content_loss)
        if name in STYLE_LAYERS:
            style_loss = StyleLoss(model(style_img).detach())
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses.append(style_loss)
    # trim off the layers after the last loss
    for i in range(len(model) - 1, -1, -1):
        if isinstance(model[i], (ContentLoss, StyleLoss)):
            break
    return model[: i + 1], style_losses, content_losses


def style_problem(seed: int, size: int, content: str | None = None, style: str | None = None,
                  weights: str | None = None) -> tuple:  # fmt: skip
    """(the image to optimise, `scores()` -> its style and content losses, the loss modules,
    the features' name)."""
    # ---- images and the feature network, from the shared weights
    content_img, style_img = (torch.tensor(a) for a in images(size, content, style))
    config, state, features = feature_weights(seed, weights)
    cnn = vgg_features(config)
    cnn.load_state_dict({k: torch.tensor(v) for k, v in state.items()})

    # ---- the model: the network with the loss modules inserted, frozen
    model, style_losses, content_losses = style_model_and_losses(cnn, content_img, style_img)
    model.eval()
    model.requires_grad_(False)
    input_img = content_img.clone()
    input_img.requires_grad_(True)

    def scores():
        model(input_img)  # each loss module stores its .loss
        style_score = sum(sl.loss for sl in style_losses) * STYLE_WEIGHT
        content_score = sum(cl.loss for cl in content_losses) * CONTENT_WEIGHT
        return style_score, content_score

    return input_img, scores, style_losses + content_losses, features


def run(seed: int = 0, steps: int = 300, size: int = 128, content: str | None = None,
        style: str | None = None, weights: str | None = None, out: str = "out/style_transfer",
        line_search: str | None = "strong_wolfe") -> dict:  # fmt: skip
    input_img, scores, _, features = style_problem(seed, size, content, style, weights)

    # ---- the losses and the image's gradient at the start
    initial_style, initial_content = scores()
    (initial_style + initial_content).backward()
    initial_grad = input_img.grad.numpy().copy()

    # ---- L-BFGS on the image; the closure counts its evaluations
    optimizer = optim.LBFGS([input_img], max_iter=steps, line_search_fn=line_search)
    evaluations, losses = [0], []
    bar = progress(range(steps), desc="LBFGS evaluations")

    def closure():
        with torch.no_grad():
            input_img.clamp_(0, 1)  # keep the image a valid image
        optimizer.zero_grad()
        style_score, content_score = scores()
        loss = style_score + content_score
        loss.backward()
        evaluations[0] += 1
        losses.append(loss.item())
        bar.update()
        return loss

    while evaluations[0] < steps:  # one step() runs them all, unless the loss stops changing
        optimizer.step(closure)
    bar.close()

    # ---- the final image
    with torch.no_grad():
        input_img.clamp_(0, 1)
        final_style, final_content = scores()
    return {
        "features": features,
        "initial_style_loss": initial_style.item(),
        "initial_content_loss": initial_content.item(),
        "initial_grad": initial_grad,
        "losses": np.array(losses),
        "final_style_loss": final_style.item(),
        "final_content_loss": final_content.item(),
        "final_loss": (final_style + final_content).item(),
        "image_path": save_image(input_img.detach().numpy(), out, FORM),
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is one evaluation of
    the L-BFGS closure (clamp, forward, backward); the losses are LBFGS's, strong-Wolfe."""
    input_img, scores, loss_modules, _ = style_problem(seed, 32 if quick else 128)

    def graph():
        return sum(scores())

    def step():  # the closure (it clears the image's .grad itself: no optimizer in it)
        with torch.no_grad():
            input_img.clamp_(0, 1)  # keep the image a valid image
        input_img.grad = None
        loss = graph()
        loss.backward()
        for module in loss_modules:  # no graph outlives the step (as funcgrad.tape.jit needs)
            module.loss = module.loss.detach()
        return loss

    def grads():
        step()
        return {"image": input_img.grad}

    def losses(steps, step):
        optimizer = optim.LBFGS([input_img], max_iter=steps, line_search_fn="strong_wolfe")
        history = []

        def closure():
            loss = step()
            history.append(loss.item())
            return loss

        while len(history) < steps:
            optimizer.step(closure)
        return history[:steps]

    return {"unit": f"L-BFGS closure: loss and image gradient, {tuple(input_img.shape)}",
            "grads": grads, "step": step, "graph": graph, "losses": losses,
            "produced": lambda: input_img.grad}  # fmt: skip


def main(argv=None) -> None:
    args = style_parser("Neural style transfer with L-BFGS, PyTorch.").parse_args(argv)
    results = run(args.seed, args.steps, args.size, args.content, args.style, args.weights,
                  args.out, LINE_SEARCH[args.line_search])  # fmt: skip
    report("style_transfer / PyTorch", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
