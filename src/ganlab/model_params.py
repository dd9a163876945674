"""The params of every model: one frozen dataclass per variant, validating its section of params.yaml.

They live apart from the networks (ganlab.models), so that every stage can validate the whole
params file, model sections included, without importing torch or any model code: a typo in
`dcgan:` fails the first stage that runs, and an edit to a network re-runs only the stages
that run it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ganlab.errors import ParamsError

SIDES = (4, 8, 16, 32, 64, 128, 256)  # the resolutions progressive growing's batch_sizes and phase_images are aligned with
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
    """A model's section. Messages name keys bare ("steps must be > 0"): one class serves several
    sections (cdcgan's extends dcgan's), and params.parse adds the section they were read from."""

    # What the networks can train on, declared here (not on the variant, which needs torch) so that
    # params.load can check it against prepare's section before any stage runs.
    resolutions: ClassVar[tuple[int, ...]] = (16, 32, 64, 128, 256)  # image sides the networks can be built at; variants that cannot do all narrow it
    conditional: ClassVar[bool] = False  # True: G and D take class labels, which prepare.categories gives

    steps: int = 2000  # generator updates
    batch_size: int = 64  # real images per discriminator step
    nz: int = 100  # latent size (Kaladjian's WGAN and Razzaq's cDCGAN used 100)
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
        for name in ("steps", "batch_size", "nz", "lr_g", "lr_d"):
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


@dataclass(frozen=True)
class DCGANParams(ModelParams):
    width: int = 64  # channels of the last generator / first discriminator layer (ngf = ndf; 64 in the paper)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width <= 0:
            raise ParamsError(f"width must be > 0, got {self.width}")


@dataclass(frozen=True)
class CDCGANParams(DCGANParams):
    conditional: ClassVar[bool] = True

    embed_dim: int = 16  # size of the learned label embedding (Razzaq's report: 16; Brownlee's code: 50)
    lr_g: float = 7e-4  # generator learning rate (Razzaq)
    lr_d: float = 7e-4  # discriminator learning rate (Razzaq)
    beta1: float = 0.9  # Adamax beta1: Razzaq gives none, so Keras's Adamax default
    optimizer: Literal["adam", "adamax", "rmsprop"] = "adamax"  # Razzaq: Adamax, "recommended when there are embeddings"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embed_dim <= 0:
            raise ParamsError(f"embed_dim must be > 0, got {self.embed_dim}")


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
        if self.width <= 0:
            raise ParamsError(f"width must be > 0, got {self.width}")
        if self.clip <= 0:
            raise ParamsError(f"clip must be > 0, got {self.clip}")
        if self.n_critic < 1:
            raise ParamsError(f"n_critic must be >= 1, got {self.n_critic}")


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
        for name in ("width", "n_critic"):
            if getattr(self, name) < 1:
                raise ParamsError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("gp_weight", "instance_noise"):
            if getattr(self, name) < 0:
                raise ParamsError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ParamsError(f"dropout must be in [0, 1), got {self.dropout}")


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
        if self.width <= 0:
            raise ParamsError(f"width must be > 0, got {self.width}")
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


# model name in params.yaml -> its params class; ganlab.models.REGISTRY holds the same names
MODEL_PARAMS: dict[str, type[ModelParams]] = {
    "dcgan": DCGANParams,
    "wgan": WGANParams,
    "wgan_gp": WGANGPParams,
    "progressive": ProgressiveParams,
    "cdcgan": CDCGANParams,
}
