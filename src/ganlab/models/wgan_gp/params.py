"""wgan_gp's params: its section of params.yaml.

Torch-free: params.load validates the section with it without importing the networks
(variant.py beside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganlab.errors import ParamsError
from ganlab.model_params import ModelParams


@dataclass(frozen=True)
class WGANGPParams(ModelParams):
    batch_size: int = 128  # real images per critic step (Łukaszyk and Wrona)
    nz: int = 128  # latent size (Łukaszyk and Wrona's first model; its second used 1024)
    width: int = 64  # channels of the generator's last / the critic's first conv layer, doubling per layer
    lr_g: float = 2e-4  # generator learning rate (Łukaszyk and Wrona; Gulrajani et al. used 1e-4)
    lr_d: float = 2e-4  # critic learning rate (Łukaszyk and Wrona)
    beta1: float = 0.5  # Adam beta1 of the keras.io example Łukaszyk and Wrona built on (Gulrajani et al.: 0.0)
    beta2: float = 0.9  # Adam beta2 (keras.io example and Gulrajani et al.)
    n_critic: int = 3  # critic steps per generator step, each on a fresh real batch (keras.io example; Gulrajani et al.: 5)
    gp_weight: float = 10.0  # gradient penalty weight lambda (Łukaszyk and Wrona, Gulrajani et al.)
    critic_norm: Literal["layer", "none"] = "none"  # normalisation in the critic: Łukaszyk and Wrona had none; Gulrajani et al. used layer norm
    dropout: float = 0.0  # dropout after each generator layer but the output (Łukaszyk and Wrona's second model: 0.2)
    instance_noise: float = 0.0  # std of Gaussian noise added to every critic input (Łukaszyk and Wrona's second model: 0.001)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_critic < 1:
            raise ParamsError(f"n_critic must be >= 1, got {self.n_critic}")
        for name in ("gp_weight", "instance_noise"):
            if getattr(self, name) < 0:
                raise ParamsError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ParamsError(f"dropout must be in [0, 1), got {self.dropout}")


Params = WGANGPParams  # what ganlab.model_params.MODEL_PARAMS['wgan_gp'] is
