"""DCGAN (Radford et al. 2015): the classic 64x64 architecture, any power-of-two size, width `ngf`."""

from __future__ import annotations

from ganlab.models.base import BCEVariant
from ganlab.models.dcgan.params import DCGANParams
from ganlab.models.layers import DCGANDiscriminator, DCGANGenerator


class DCGAN(BCEVariant):
    """Radford et al.'s DCGAN with the non-saturating BCE loss; G's step scores the D step's
    fakes, as pytorch/examples' dcgan does."""

    Params = DCGANParams

    def build(self, resolution: int, channels: int = 3, num_classes: int = 0):
        return DCGANGenerator(self.p.nz, self.p.width, resolution, channels), DCGANDiscriminator(self.p.width, resolution, channels, self.p.minibatch_std)


VARIANT = DCGAN  # what ganlab.models.REGISTRY['dcgan'] is
