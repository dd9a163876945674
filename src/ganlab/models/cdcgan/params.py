"""cdcgan's params: its section of params.yaml.

Torch-free: params.load validates the section with it without importing the networks
(variant.py beside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ganlab.errors import ParamsError
from ganlab.model_params import ModelParams


@dataclass(frozen=True)
class CDCGANParams(ModelParams):
    conditional: ClassVar[bool] = True

    width: int = 64  # channels of the last generator / first discriminator layer, as dcgan's (Razzaq: 64 px, 128 maps at 4x4)
    embed_dim: int = 16  # size of the learned label embedding (Razzaq's report: 16; Brownlee's code: 50)
    lr_g: float = 7e-4  # generator learning rate (Razzaq)
    lr_d: float = 7e-4  # discriminator learning rate (Razzaq)
    beta1: float = 0.9  # Adamax beta1: Razzaq gives none, so Keras's Adamax default
    optimizer: Literal["adam", "adamax", "rmsprop"] = "adamax"  # Razzaq: Adamax, "recommended when there are embeddings"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embed_dim <= 0:
            raise ParamsError(f"embed_dim must be > 0, got {self.embed_dim}")


Params = CDCGANParams  # what ganlab.model_params.MODEL_PARAMS['cdcgan'] is
