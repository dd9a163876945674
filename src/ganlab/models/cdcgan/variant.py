"""Conditional DCGAN as Razzaq built it (after Brownlee's Keras cGAN), on DCGAN's networks.

Both networks learn an embedding of the class label, and a linear layer turns it into one extra
feature map: in D an image-sized channel beside the RGB input, in G a 4x4 channel beside the
first 4x4 feature map (Razzaq: 128 + 1 = 129 maps). Everything else is DCGAN's (models/layers.py, base.BCEVariant).
"""

from __future__ import annotations


import torch
from torch import nn

from ganlab.models.base import BCEVariant
from ganlab.models.cdcgan.params import CDCGANParams
from ganlab.models.layers import DCGANDiscriminator, DCGANGenerator, init_weights


class LabelMap(nn.Module):
    """Class label -> learned embedding -> linear -> one (side x side) feature map."""

    def __init__(self, num_classes: int, embed_dim: int, side: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.fc = nn.Linear(embed_dim, side * side)  # linear activation, as in Razzaq
        self.side = side

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(labels)).view(-1, 1, self.side, self.side)  # (B, 1, s, s)


class Generator(nn.Module):
    """DCGAN's generator with a label map concatenated to its first (4x4) feature map.

    `labels=None` draws labels uniformly (from torch's global generator), so callers that know
    nothing of classes (unconditional sampling, FID) still get images of every class.
    """

    def __init__(self, nz: int, width: int, resolution: int, channels: int, num_classes: int, embed_dim: int):
        super().__init__()
        net = DCGANGenerator(nz, width, resolution, channels).net
        self.head, self.tail = net[:3], net[3:]  # head: (B, nz, 1, 1) -> (B, ch, 4, 4)
        first = self.tail[0]  # the tail's first transposed conv also takes the label map
        self.tail[0] = nn.ConvTranspose2d(first.in_channels + 1, first.out_channels, 4, 2, 1, bias=False)
        init_weights(self.tail[0])
        self.label_map = LabelMap(num_classes, embed_dim, 4)
        self.nz, self.num_classes = nz, num_classes

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            labels = torch.randint(self.num_classes, (z.shape[0],), device=z.device)
        h = self.head(z.view(z.shape[0], self.nz, 1, 1))  # (B, ch, 4, 4)
        h = torch.cat([h, self.label_map(labels)], 1)  # (B, ch + 1, 4, 4)
        return self.tail(h)  # (B, C, R, R) in [-1, 1]


class Discriminator(nn.Module):
    """DCGAN's discriminator over the image plus one image-sized label channel."""

    def __init__(self, width: int, resolution: int, channels: int, num_classes: int, embed_dim: int, minibatch_std: bool = False):
        super().__init__()
        self.label_map = LabelMap(num_classes, embed_dim, resolution)
        self.body = DCGANDiscriminator(width, resolution, channels + 1, minibatch_std)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            raise ValueError("the conditional discriminator needs the images' labels")
        return self.body(torch.cat([x, self.label_map(labels)], 1))  # (B, C + 1, R, R) -> (B,) logits


class CDCGAN(BCEVariant):
    """Conditional DCGAN: DCGAN's BCE losses, fakes drawn with the real batch's labels (so they
    follow the data's class frequencies)."""

    Params = CDCGANParams

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        if num_classes < 1:
            raise ValueError(f"cdcgan is conditional: it needs num_classes >= 1, got {num_classes}")
        p = self.p
        return Generator(p.nz, p.width, resolution, channels, num_classes, p.embed_dim), Discriminator(p.width, resolution, channels, num_classes, p.embed_dim, p.minibatch_std)


VARIANT = CDCGAN  # what ganlab.models.REGISTRY['cdcgan'] is
