"""Model registry: a plain dict from the name used in params.yaml to the variant."""

from ganlab.models.base import ModelParams, Variant
from ganlab.models.dcgan import DCGAN

REGISTRY: dict[str, Variant] = {
    "dcgan": DCGAN(),
}

__all__ = ["REGISTRY", "ModelParams", "Variant"]
