"""Model registry: a plain dict from the name used in params.yaml to the variant class.

A variant is built with its params: `REGISTRY[name](params)`; `REGISTRY[name].Params` is the
params class that validates that model's section of params.yaml.
"""

from ganlab.models.base import ModelParams, Variant
from ganlab.models.cdcgan import CDCGAN
from ganlab.models.dcgan import DCGAN
from ganlab.models.progressive import Progressive
from ganlab.models.wgan import WGAN
from ganlab.models.wgan_gp import WGANGP

REGISTRY: dict[str, type[Variant]] = {
    "dcgan": DCGAN,
    "wgan": WGAN,
    "wgan_gp": WGANGP,
    "progressive": Progressive,
    "cdcgan": CDCGAN,
}

__all__ = ["REGISTRY", "ModelParams", "Variant"]
