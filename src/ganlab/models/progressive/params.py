"""progressive's params: its section of params.yaml.

Torch-free: params.load validates the section with it without importing the networks
(variant.py beside it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ganlab.errors import ParamsError
from ganlab.model_params import ModelParams

SIDES = (4, 8, 16, 32, 64, 128, 256)  # the resolutions batch_sizes and phase_images are aligned with


@dataclass(frozen=True)
class ProgressiveParams(ModelParams):
    batch_size: int = 32  # largest minibatch: batch_sizes entries above it are capped to it (Penne et al. started at 32)
    batch_sizes: list[int] = field(default_factory=lambda: [32, 32, 32, 32, 16, 16, 14])  # minibatch at 4, 8, ..., 256 px (Penne et al.: shrinking with resolution; Karras: 16 up to 128, 14 at 256)
    nz: int = 512  # latent size (Penne et al. and Karras et al.)
    width: int = 64  # channels up to 32 px, halved per doubling above (Karras and Penne et al.: 512; 64 costs about what DCGAN's default does per image on a CPU)
    # cap on the channels below 32 px, which double per halving up to it; 0: `width` (Karras: flat
    # up to 32 px). Low resolutions are cheap, so a cap above `width` buys capacity where the
    # face's layout is learnt for little time.
    max_width: int = 0
    start_resolution: int = 16  # resolution training starts at (Penne et al.: 16, faster than Karras's 4)
    # real images per fade-in and per stabilisation phase at 4, 8, ..., 256 px (Karras: 800k each;
    # Penne et al.: 5 CelebA epochs). Low resolutions are cheap and where the face's layout is learnt,
    # so the defaults spend most images there: on a 2-core CPU 16 px trains at ~600 images/s,
    # 64 px at ~80.
    phase_images: list[int] = field(default_factory=lambda: [8000, 8000, 48000, 12000, 8000, 8000, 8000])
    # wgan_gp: Karras et al.'s Wasserstein loss with the gradient penalty and drift term;
    # bce: Penne et al.'s binary cross-entropy (non-saturating for G) with the same gradient penalty
    loss: Literal["wgan_gp", "bce"] = "wgan_gp"
    gp_weight: float = 10.0  # gradient penalty weight lambda (Karras et al.)
    drift: float = 0.001  # weight of the drift term E[D(real)^2] that keeps critic scores near 0 (Karras et al.)
    lr_g: float = 1e-3  # generator learning rate (Karras et al.)
    lr_d: float = 1e-3  # discriminator learning rate (Karras et al.)
    beta1: float = 0.0  # Adam beta1 (Karras et al.)
    beta2: float = 0.99  # Adam beta2 (Karras et al.)
    # Adam as in the paper rather than Penne et al.'s RMSProp: the loss here is the paper's WGAN-GP with
    # drift, and Adam(0, 0.99) is what that loss and equalized learning rate were tuned with; seed
    # 003 paired RMSProp with a BCE loss.
    optimizer: Literal["adam", "adamax", "rmsprop"] = "adam"  # Karras et al.; Penne et al. used rmsprop
    minibatch_std: bool = True  # Karras et al.'s discriminator has it

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.spectral_norm:  # SN would divide each weight by its norm, which the run-time He scale then multiplies again
            raise ParamsError("spectral_norm is not offered for progressive: its equalized-learning-rate layers rescale their weights at run time")
        if self.start_resolution not in SIDES:
            raise ParamsError(f"start_resolution must be one of {', '.join(map(str, SIDES))}, got {self.start_resolution}")
        if len(self.batch_sizes) != len(SIDES) or min(self.batch_sizes) <= 0:
            raise ParamsError(f"batch_sizes must hold {len(SIDES)} positive sizes, for {', '.join(map(str, SIDES))} px; got {self.batch_sizes}")
        if self.max_width < 0:
            raise ParamsError(f"max_width must be >= 0 (0: width), got {self.max_width}")
        if len(self.phase_images) != len(SIDES) or min(self.phase_images) <= 0:
            raise ParamsError(f"phase_images must hold {len(SIDES)} positive counts, for {', '.join(map(str, SIDES))} px; got {self.phase_images}")
        for name in ("gp_weight", "drift"):
            if getattr(self, name) < 0:
                raise ParamsError(f"{name} must be >= 0, got {getattr(self, name)}")

    def data_problem(self, section: str, resolution: int, categories: int) -> str | None:
        problem = super().data_problem(section, resolution, categories)
        if problem is None and self.start_resolution > resolution:
            problem = f"{section}.start_resolution {self.start_resolution} is above prepare.resolution {resolution}"
        return problem


Params = ProgressiveParams  # what ganlab.model_params.MODEL_PARAMS['progressive'] is
