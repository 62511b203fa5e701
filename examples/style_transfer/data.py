"""The images, the feature network's layer config, and its weights in PyTorch's layout.

Images: the content and style pictures default to two bundled with scikit-image
(`chelsea`, a cat, and `hubble_deep_field`), so nothing is downloaded; any image file can
be given instead. Each is centre-cropped to a square and resized to `size` pixels, as
float32 NCHW in [0, 1].

Weights: pretrained VGG19 weights cannot be downloaded here, so the default feature network
is a small VGG-style conv network with fixed-seed random weights (He-scaled normal, so the
features neither vanish nor blow up with depth); random conv features already carry
texture statistics, so the result is a stylisation, though a cruder one than VGG's. The
real thing takes `--weights FILE`: torchvision's VGG19 weights, as the checkpoint
torchvision downloads (`vgg19-dcbbb69a.pth` in `~/.cache/torch/hub/checkpoints/`, keys
'features.0.weight', ...), any `torch.save` of `vgg19().features.state_dict()` (keys
'0.weight', ...), a `.safetensors` file with either keys, or an `.npz` of the arrays.
Checkpoints are read with `funcgrad.checkpoint` (weights only: no code in the file runs,
and neither torch nor torchvision is needed). Only the layers up to the last loss layer
(conv_5, index 10) are read, so a file with just those works too. To make an `.npz` where
torchvision can download (~550 MB):

    python -c "import numpy as np, torchvision; f = torchvision.models.vgg19(
        weights='IMAGENET1K_V1').features; np.savez('vgg19_features.npz',
        **{k: v.numpy() for k, v in f.state_dict().items()})"
"""

from __future__ import annotations

import os

import numpy as np
import skimage.data
import skimage.io
import skimage.transform
import skimage.util

from examples.common import parser
from funcgrad import checkpoint

# torchvision's VGG19 config ("M": a 2x2 max pool), and the small default network
VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
         512, 512, 512, 512, "M", 512, 512, 512, 512, "M")  # fmt: skip
SMALL = (32, 32, "M", 64, 64, "M", 128)  # VGG19 up to conv_5, at half the width

CONTENT_LAYERS = ("conv_4",)
STYLE_LAYERS = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
STYLE_WEIGHT, CONTENT_WEIGHT = 1e6, 1.0
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet's, as VGG was trained on

LINE_SEARCH = {"strong_wolfe": "strong_wolfe", "none": None}  # --line-search -> line_search_fn
RANDOM_FEATURES = "random fixed-seed conv network (pass --weights for VGG19)"


# ---------------------------------------------------------------- images
def load_image(path: str | None, default: str, size: int) -> np.ndarray:
    """An image file (or a scikit-image picture by name) as float32 (1, 3, size, size)."""
    image = getattr(skimage.data, default)() if path is None else skimage.io.imread(path)
    image = np.asarray(image)
    if image.ndim == 2:  # grey
        image = np.stack([image] * 3, axis=-1)
    image = skimage.util.img_as_float(image[..., :3])  # drop alpha; uint8 or uint16 to [0, 1]
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    image = image[top : top + side, left : left + side]
    image = skimage.transform.resize(image, (size, size), anti_aliasing=True)
    return np.ascontiguousarray(np.clip(image, 0, 1).astype(np.float32).transpose(2, 0, 1)[None])


def images(size: int, content: str | None = None, style: str | None = None) -> tuple:
    """(content, style), each float32 NCHW (1, 3, size, size) in [0, 1]."""
    return load_image(content, "chelsea", size), load_image(style, "hubble_deep_field", size)


def save_image(image, out: str, name: str) -> str:
    """Writes a (1, 3, H, W) image in [0, 1] as `out/name.png`; returns the path."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}.png")
    pixels = np.asarray(image)[0].transpose(1, 2, 0)
    skimage.io.imsave(path, (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8))
    return path


# ---------------------------------------------------------------- the feature network
def used_layers(config: tuple) -> tuple:
    """The config up to the last conv a loss reads (the tutorial trims the rest away)."""
    last = max(int(name.split("_")[1]) for name in CONTENT_LAYERS + STYLE_LAYERS)
    convs = np.cumsum([v != "M" for v in config])
    return config[: int(np.searchsorted(convs, last)) + 1]


def _conv_layers(config: tuple):
    """(name, index in the nn.Sequential, in channels, out channels) of each conv, with
    torchvision's numbering of Conv2d, ReLU and MaxPool2d layers (VGG19's conv_5 is 10)."""
    index, channels, n = 0, 3, 0
    for v in config:
        if v == "M":
            index += 1
            continue
        n += 1
        yield f"conv_{n}", index, channels, v
        index, channels = index + 2, v


def conv_indices(config: tuple) -> dict:
    """'conv_1' -> its layer index in the feature network's nn.Sequential."""
    return {name: index for name, index, _, _ in _conv_layers(config)}


def _shapes(config: tuple) -> dict:
    shapes = {}
    for _, index, c_in, c_out in _conv_layers(config):
        shapes[f"{index}.weight"], shapes[f"{index}.bias"] = (c_out, c_in, 3, 3), (c_out,)
    return shapes


def _stored_arrays(path: str) -> dict:
    """name -> numpy array from an `.npz`, a PyTorch checkpoint or a `.safetensors` file."""
    if path.endswith(".npz"):
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    stored = checkpoint.load(path)
    if not isinstance(stored, dict):
        raise ValueError(f"{path}: expected a state dict, found {type(stored).__name__}")
    return stored


def feature_weights(seed: int, weights: str | None = None) -> tuple:
    """(config, state dict in PyTorch layout, description) of the feature network.

    Args:
      seed: the random weights' seed (ignored with `weights`).
      weights: Optional. torchvision's VGG19 weights: its checkpoint (`.pth`), a state dict
        of `vgg19().features` saved by `torch.save`, a `.safetensors` file, or an `.npz`.
    """
    if weights is None:
        config = used_layers(SMALL)
        rng = np.random.default_rng(seed + 1)
        state = {}
        for name, shape in _shapes(config).items():
            # weights He (kaiming) normal, which keeps the ReLU features' scale; biases small
            std = np.sqrt(2.0 / np.prod(shape[1:])) if name.endswith("weight") else 0.01
            state[name] = (rng.standard_normal(shape) * std).astype(np.float32)
        return config, state, RANDOM_FEATURES
    config = used_layers(VGG19)
    stored = _stored_arrays(weights)
    state = {}
    for name, shape in _shapes(config).items():
        array = stored.get(name, stored.get(f"features.{name}"))
        if array is None or array.shape != shape:
            found = "nothing" if array is None else array.shape
            raise ValueError(
                f"{weights}: '{name}' should have shape {shape} (torchvision's "
                f"vgg19().features), found {found}. Pass torchvision's VGG19 checkpoint or "
                "a file made as in examples/style_transfer/data.py's docstring."
            )
        state[name] = np.asarray(array, np.float32)
    return config, state, f"VGG19 features from {weights}"


# ---------------------------------------------------------------- the command line
def style_parser(description: str):
    """The options of the three forms: the common ones, the image size and files, weights."""
    p = parser(description, steps=300)
    p.set_defaults(out="out/style_transfer")
    p.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    p.add_argument("--content", default=None, help="content image file (default: a cat)")
    p.add_argument("--style", default=None, help="style image file (default: Hubble)")
    p.add_argument(
        "--weights",
        default=None,
        help="VGG19 weights: torchvision's .pth checkpoint, a .safetensors or an .npz "
        "(see data.py)",
    )
    p.add_argument("--line-search", choices=list(LINE_SEARCH), default="strong_wolfe",
                   help="line search of PyTorch's L-BFGS (default strong_wolfe)")  # fmt: skip
    return p
