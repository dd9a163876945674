"""What every model's params share: the base class, the guard's params, and the registry.

Each model's own class lives beside its networks, in ganlab/models/<name>/params.py, which
imports no torch: the train stage of a model validates its section without loading any other
model, and an edit to one model's params or networks reruns only that model's stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, Mapping

from ganlab.errors import ParamsError
from ganlab.params import ByModelName

AUGMENT_POLICIES = ("color", "translation", "cutout")  # DiffAugment's (ganlab.models.stabilisers applies them in this order)


@dataclass(frozen=True)
class GuardParams:
    enabled: bool = False  # off by default: the reports' other models did without it
    keep_d: list[float] = field(default_factory=lambda: [0.55, 1.9])  # loss_d range where weights are kept (Razzaq: 0.30-0.95 and 0.25-0.95 for its two halves)
    keep_g: list[float] = field(default_factory=lambda: [0.4, 1.5])  # loss_g range where weights are kept (Razzaq)
    bounds_d: list[float] = field(default_factory=lambda: [0.002, 4.0])  # D is restored outside this (Razzaq: 0.001-2.0 per half)
    bounds_g: list[float] = field(default_factory=lambda: [0.01, 4.5])  # G is restored outside this (Razzaq)

    def __post_init__(self) -> None:
        for name in ("keep_d", "keep_g", "bounds_d", "bounds_g"):
            v = getattr(self, name)
            if len(v) != 2 or v[0] >= v[1]:
                raise ParamsError(f"{name} must be [low, high] with low < high, got {v}")


@dataclass(frozen=True)
class ModelParams:
    """A model's section (each model's class extends it). Messages name keys bare ("steps must
    be > 0"): params.parse adds the section they were read from."""

    # What the networks can train on, declared here (not on the variant, which needs torch) so that
    # params.load can check it against prepare's section before training (ganlab.presets: before any stage).
    resolutions: ClassVar[tuple[int, ...]] = (16, 32, 64, 128, 256)  # image sides the networks can be built at; variants that cannot do all narrow it
    conditional: ClassVar[bool] = False  # True: G and D take class labels, which prepare.categories gives

    steps: int = 2000  # generator updates
    batch_size: int = 64  # real images per discriminator step
    nz: int = 100  # latent size (Kaladjian's WGAN and Razzaq's cDCGAN used 100)
    width: int = 64  # the networks' width in channels; each model's class says which layers (64: DCGAN's ngf = ndf)
    lr_g: float = 2e-4  # generator learning rate (Radford et al. 2015)
    lr_d: float = 2e-4  # discriminator learning rate
    beta1: float = 0.5  # Adam beta1; 0.5 rather than 0.9 keeps DCGAN training stable (Radford et al.)
    beta2: float = 0.999  # Adam beta2
    optimizer: Literal["adam", "adamax", "rmsprop"] = "adam"  # Razzaq used Adamax (lr 0.0007), Penne RMSProp
    guard: GuardParams = field(default_factory=GuardParams)  # Razzaq's loss-bounds guard (off by default)
    # Stabilisers (ganlab.models.stabilisers; docs/stabilisers.md), off here as in the reports'
    # recipes; params.yaml turns on what the benchmark chose for each default model.
    augment: list[Literal["color", "translation", "cutout"]] = field(default_factory=list)  # DiffAugment policies on every image D sees, real and fake, in D's and G's steps (Zhao et al. 2020); []: none
    xflip: bool = False  # mirror each real image left-right with probability 1/2
    spectral_norm: bool = False  # spectral normalisation of D's conv and linear layers, with D's batch norm taken out (Miyato et al. 2018)
    minibatch_std: bool = False  # a minibatch standard deviation map before D's last layer (Karras et al. 2017): D sees a batch lacking variety
    r1: float = 0.0  # R1 penalty weight gamma on D's gradient at the (augmented) reals (Mescheder et al. 2018); 0: off
    r1_every: int = 16  # R1 on every r1_every-th step only, weighted by r1_every (lazy regularisation, Karras et al. 2020)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "nz", "width", "lr_g", "lr_d"):
            if getattr(self, name) <= 0:
                raise ParamsError(f"{name} must be > 0, got {getattr(self, name)}")
        for policy in self.augment:
            if policy not in AUGMENT_POLICIES:
                raise ParamsError(f"augment must list policies of {', '.join(AUGMENT_POLICIES)}, got {policy!r}")
        if len(set(self.augment)) != len(self.augment):
            raise ParamsError(f"augment lists a policy twice: {self.augment}")
        if self.r1 < 0:
            raise ParamsError(f"r1 must be >= 0 (0: off), got {self.r1}")
        if self.r1_every < 1:
            raise ParamsError(f"r1_every must be >= 1, got {self.r1_every}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ParamsError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    def data_problem(self, section: str, resolution: int, categories: int) -> str | None:
        """Why the model of params section `section` cannot train on what prepare makes (square
        images of `resolution` px, with `categories` class labels; 0: none), or None."""
        if resolution not in self.resolutions:
            return f"prepare.resolution {resolution} cannot be trained by {section}, which takes {', '.join(map(str, self.resolutions))} px"
        if self.conditional and not categories:
            return f"{section} is conditional: prepare.categories must list the classes it draws"
        return None


# model name -> its params class (ganlab/models/<name>/params.py's Params); ganlab.models.REGISTRY holds the same names
MODEL_PARAMS: Mapping[str, type[ModelParams]] = ByModelName("params", "Params")
