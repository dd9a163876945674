"""dcgan's params: its section of params.yaml.

Torch-free: params.load validates the section with it without importing the networks
(variant.py beside it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.model_params import ModelParams


@dataclass(frozen=True)
class DCGANParams(ModelParams):
    width: int = 64  # channels of the last generator / first discriminator layer (ngf = ndf; 64 in the paper)



Params = DCGANParams  # what ganlab.model_params.MODEL_PARAMS['dcgan'] is
