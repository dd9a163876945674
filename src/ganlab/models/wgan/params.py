"""wgan's params: its section of params.yaml.

Torch-free: params.load validates the section with it without importing the networks
(variant.py beside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ganlab.errors import ParamsError
from ganlab.model_params import ModelParams


@dataclass(frozen=True)
class WGANParams(ModelParams):
    resolutions: ClassVar[tuple[int, ...]] = (32, 64, 128, 256)  # five stride-2 layers (Kaladjian) need 32 px or more

    batch_size: int = 32  # real images per critic step (Kaladjian)
    width: int = 64  # channels of the generator's last / the critic's first conv layer, doubling per layer (DCGAN's 64)
    lr_g: float = 5e-5  # generator learning rate (Arjovsky et al. 2017)
    lr_d: float = 5e-5  # critic learning rate (Arjovsky et al. 2017)
    optimizer: Literal["adam", "adamax", "rmsprop"] = "rmsprop"  # Arjovsky et al.: momentum-based optimisers made the clipped critic unstable
    clip: float = 0.01  # critic weights are clamped to [-clip, clip] after each critic step (Arjovsky et al.)
    n_critic: int = 5  # critic steps per generator step, each on a fresh real batch (Arjovsky et al.)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.clip <= 0:
            raise ParamsError(f"clip must be > 0, got {self.clip}")
        if self.n_critic < 1:
            raise ParamsError(f"n_critic must be >= 1, got {self.n_critic}")


Params = WGANParams  # what ganlab.model_params.MODEL_PARAMS['wgan'] is
