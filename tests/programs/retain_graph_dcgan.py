"""A small DCGAN: a generator of 8x8 images against a convolutional discriminator.

The generator's output feeds both losses: the discriminator's (fake images labelled fake)
and the generator's (the same images labelled real). Run it with --broken to train the
discriminator on `fake` itself instead of `fake.detach()`: its backward then frees the
generator's graph, and the generator's backward through the same images fails with
"Trying to backward through the graph a second time".

Written for funcgrad's tests (issue 8), after the structure of PyTorch's DCGAN tutorial;
weights, data and noise come from NumPy so that real PyTorch and
`import funcgrad.tape as torch` start from the same numbers.
"""

import argparse

import numpy as np
import torch
import torch.nn as nn

NZ, NGF, NDF, BATCH = 8, 8, 8, 6


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 2, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(NGF * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, 1, 4, 2, 1, bias=False),  # 4x4 -> 8x8
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, NDF, 4, 2, 1, bias=False),  # 8x8 -> 4x4
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),  # 4x4 -> 2x2
            nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, 1, 2, 1, 0, bias=False),  # 2x2 -> 1x1
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1)


def numpy_weights(model, seed):
    """DCGAN's initialisation (N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales),
    drawn from one NumPy seed."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            mean = 1.0 if p.ndim == 1 and "weight" in name else 0.0
            std = 0.0 if p.ndim == 1 and "bias" in name else 0.02
            p.copy_(torch.from_numpy(rng.normal(mean, std, tuple(p.shape)).astype(np.float32)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broken", action="store_true", help="no .detach() for D's step")
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    grid = np.linspace(-1, 1, 8, dtype=np.float32)
    blobs = np.exp(-4 * (grid[:, None] ** 2 + grid[None, :] ** 2))  # a bright centre
    real = torch.from_numpy((blobs[None, None] * rng.uniform(0.5, 1, (BATCH, 1, 1, 1)) * 2 - 1)
                            .astype(np.float32))  # fmt: skip

    netG, netD = Generator(), Discriminator()
    numpy_weights(netG, seed=2)
    numpy_weights(netD, seed=3)
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0

    for step in range(4):
        # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        label = torch.full((BATCH,), real_label, dtype=torch.float)
        errD_real = criterion(netD(real), label)
        errD_real.backward()
        noise = torch.from_numpy(rng.standard_normal((BATCH, NZ, 1, 1)).astype(np.float32))
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake if args.broken else fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        optimizerD.step()

        # (2) update G: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        print(f"step {step}: loss_D {(errD_real + errD_fake).item():.4f} "
              f"loss_G {errG.item():.4f} D(G(z)) {output.mean().item():.4f}")  # fmt: skip

    print(f"fake images: {tuple(fake.shape)}, in [{fake.min().item():.3f}, "
          f"{fake.max().item():.3f}]")  # fmt: skip


if __name__ == "__main__":
    main()
