"""Typed, validated parameters: one frozen dataclass per section of params.yaml.

Every stage validates every section but the models' (so a typo there fails fast, naming the
key) and the names of the models' sections; a model's stages validate its own section (see load).
Defaults live here and in each model's params class, and nowhere else; params.yaml overrides them.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ganlab.errors import ParamsError


def _positive(where: str, value: float) -> None:
    if value <= 0:
        raise ParamsError(f"{where} must be > 0, got {value}")


def _seed(where: str, value: int) -> None:
    if value < 0:  # numpy's generators refuse negative seeds, and the synthetic faces are drawn with them
        raise ParamsError(f"{where} must be >= 0, got {value}")


@dataclass(frozen=True)
class DataParams:
    source: Literal["synthetic", "celeba", "lsun_bedroom", "folder"] = "synthetic"  # where the images come from; "synthetic" needs no download
    count: int = 2000  # images the synthetic renderer draws
    seed: int = 0  # seed of the synthetic renderer: the same seed and count give the same files
    path: str | None = None  # celeba / lsun_bedroom / folder: a local folder or zip; null: download (Kaggle API, torchvision)
    cache: str | None = None  # where network downloads are kept; null: ~/.cache/ganlab
    limit: int = 0  # real sources: keep only the first `limit` images by name (a quick trial); 0: all
    verify: bool = True  # check files against their published MD5s (torchvision's CelebA list); false: accept other copies
    max_unpacked_gb: float = 64.0  # refuse a zip whose members would unpack to more than this (decompression bombs)

    def __post_init__(self) -> None:
        _positive("data.count", self.count)
        _positive("data.max_unpacked_gb", self.max_unpacked_gb)
        _seed("data.seed", self.seed)
        if self.limit < 0:
            raise ParamsError(f"data.limit must be >= 0, got {self.limit}")
        if self.source == "folder" and not self.path:
            raise ParamsError("data.path must name a folder or zip of images when data.source is 'folder'")


@dataclass(frozen=True)
class CropParams:
    mode: Literal["mtcnn", "landmarks", "center", "none"] = "mtcnn"  # mtcnn: around the detected face; landmarks: around the face placed from CelebA's five landmarks (no detector); center: central square; none: whole image
    margin: float = 0.15  # mtcnn, landmarks: share of the face box side added on each side of the square crop
    min_prob: float = 0.9  # mtcnn: faces MTCNN is less sure of than this are listed as "no face"
    batch_size: int = 16  # images per MTCNN call (equal-size images are batched on one pyramid; 8-16 run fastest on CPU)
    center_fraction: float = 1.0  # center: side of the square as a share of the image's shorter side
    # worker processes; 0: one per CPU core the process may use, where the main process only
    # collects their results (MTCNN on a CPU, where each worker decodes, detects and crops; the
    # other modes), and one fewer where it detects meanwhile (MTCNN on a GPU)
    workers: int = 0
    max_side: int = 2048  # larger images are shrunk to this longer side before detection and cropping
    max_pixels: int = 100_000_000  # images with more pixels are rejected unread (decompression bombs)

    def __post_init__(self) -> None:
        if not 0 <= self.margin <= 1:
            raise ParamsError(f"crop.margin must be in [0, 1], got {self.margin}")
        if not 0 < self.min_prob <= 1:
            raise ParamsError(f"crop.min_prob must be in (0, 1], got {self.min_prob}")
        if not 0 < self.center_fraction <= 1:
            raise ParamsError(f"crop.center_fraction must be in (0, 1], got {self.center_fraction}")
        if self.workers < 0:
            raise ParamsError(f"crop.workers must be >= 0, got {self.workers}")
        for name in ("batch_size", "max_side", "max_pixels"):
            _positive(f"crop.{name}", getattr(self, name))


@dataclass(frozen=True)
class Category:
    name: str  # the label's name, stored in category_names
    where: str  # attribute expression, e.g. "Attractive and not Male and (Big_Lips or not Smiling)"

    def __post_init__(self) -> None:
        from ganlab.data.select import compile_expression  # late: ganlab.data imports this module

        compile_expression(self.where, f"prepare.categories '{self.name}' where")


@dataclass(frozen=True)
class PrepareParams:
    resolution: int = 64  # output height in pixels (the width too when aspect is "1:1")
    aspect: Literal["1:1", "218:178"] = "1:1"  # height:width of the output; 218:178 is CelebA's aligned frame
    partition: Literal["all", "train", "valid", "test"] = "all"  # CelebA's evaluation partition to keep
    where: str | None = None  # keep only images whose attributes satisfy this expression, e.g. "Attractive"
    max_images: int = 0  # keep the first max_images (by image id) of the selection; 0: all
    categories: list[Category] = field(default_factory=list)  # label i: the first category an image matches; unmatched images are dropped
    workers: int = 0  # resizing processes; 0: one per CPU core the process may use but one (the main process writes the rows)

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ParamsError(f"prepare.resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {self.resolution}")
        if self.max_images < 0:
            raise ParamsError(f"prepare.max_images must be >= 0, got {self.max_images}")
        if self.workers < 0:
            raise ParamsError(f"prepare.workers must be >= 0, got {self.workers}")
        if self.where is not None:
            from ganlab.data.select import compile_expression

            compile_expression(self.where, "prepare.where")
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise ParamsError(f"prepare.categories: duplicate names in {names}")


RESOLUTIONS = (16, 32, 64, 80, 128, 256)  # Razzaq trained at 80 px


@dataclass(frozen=True)
class TrainParams:
    models: list[str] = field(default_factory=lambda: ["dcgan", "wgan_gp", "progressive"])  # one DVC train stage per name; each has its own section
    seed: int = 0  # seeds weights, data order and the fixed latent grid
    sample_every: int = 250  # steps between sample grids of the fixed latent vectors
    checkpoint_every: int = 500  # steps between resumable checkpoints
    keep_snapshots: int = 0  # most snapshots a run keeps (evenly thinned, always the last; ganlab.retention); 0: all
    log_every: int = 10  # steps between loss records (CSV, MLflow)
    grid_size: int = 8  # the sample grid is grid_size x grid_size images
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"  # auto: cuda, then mps, then cpu
    ema: float = 0.999  # decay of the moving average of G's weights used for every output; 0: off
    # auto: bf16 autocast on GPUs that support it and on CPUs with native bf16 arithmetic (AVX-512
    # BF16 or AMX), else fp32. What auto picked is written to train_info.json.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # auto: channels_last, the layout oneDNN's CPU convolutions and cuDNN's bf16 ones run fastest in
    memory_format: Literal["auto", "contiguous", "channels_last"] = "auto"
    # where the uint8 images live during training: auto puts them on a GPU when they take under
    # data_share of its free memory (no copy per step), else they are read from the file per
    # batch; either way a batch crosses as uint8 and is converted on the training device
    data_device: Literal["auto", "host", "device"] = "auto"
    data_share: float = 0.25  # auto: the share of a GPU's free memory the uint8 set may take
    compile: bool = False  # torch.compile G and D (G only for variants with a gradient penalty: no double backward through compiled graphs)

    def __post_init__(self) -> None:
        for name in ("sample_every", "checkpoint_every", "log_every", "grid_size"):
            _positive(f"train.{name}", getattr(self, name))
        if not 0 <= self.ema < 1:
            raise ParamsError(f"train.ema must be in [0, 1), got {self.ema}")
        if not 0 < self.data_share <= 1:
            raise ParamsError(f"train.data_share must be in (0, 1], got {self.data_share}")
        if self.keep_snapshots < 0:
            raise ParamsError(f"train.keep_snapshots must be >= 0 (0: keep all), got {self.keep_snapshots}")
        _seed("train.seed", self.seed)
        twice = sorted({m for m in self.models if self.models.count(m) > 1})
        if twice:  # one DVC stage per name: a repeated name would be one stage defined twice
            raise ParamsError(f"train.models names {', '.join(twice)} more than once")


@dataclass(frozen=True)
class EvaluateParams:
    fid_weights: str | None = None  # local copy of pytorch-fid's Inception weights; null: pytorch-fid's own loader
    fid_samples: int = 1000  # generated images for FID (Razzaq used 10k; 50k is the standard)
    fid_real_samples: int = 0  # real images for the reference statistics; 0: the whole prepared set
    face_samples: int = 200  # generated (and real) images scored for the face rate
    face_threshold: float = 0.9  # MTCNN probability above which an image counts as a face
    batch_size: int = 50  # images per generator / Inception forward pass
    seed: int = 123  # seeds the latent vectors of the selection set: every snapshot is scored on them and the best one picked
    report_seed: int = 9123  # seeds the report set: fresh latent vectors the picked snapshot's reported numbers come from
    every: int = 1  # score every k-th training snapshot (the FID curve); 0: the final weights only
    select: Literal["best", "last"] = "best"  # the snapshot behind every output: best by FID (by the offline Fréchet distance fd_<space> without FID), or the last
    class_samples: int = 200  # conditional models: generated images per category for the conditionality accuracy
    faces: bool | None = None  # whether the data are faces (face rate, ONet features); null: from data.source (lsun_bedroom is not, the others are)
    feature_samples: int = 500  # offline distribution metrics (fd_, precision_, recall_; not FID): generated images, and real images in each of two halves
    nearest_k: int = 3  # precision and recall: each sample's ball reaches its k-th nearest neighbour (Kynkäänniemi et al. 2019)

    def __post_init__(self) -> None:
        for name in ("fid_samples", "face_samples", "batch_size", "class_samples", "nearest_k"):
            _positive(f"evaluate.{name}", getattr(self, name))
        if self.feature_samples <= self.nearest_k:
            raise ParamsError(f"evaluate.feature_samples must be > evaluate.nearest_k ({self.nearest_k}), got {self.feature_samples}")
        if self.fid_real_samples < 0:
            raise ParamsError(f"evaluate.fid_real_samples must be >= 0, got {self.fid_real_samples}")
        if self.fid_samples < 2:
            raise ParamsError("evaluate.fid_samples must be >= 2 (a covariance needs two samples)")
        if self.every < 0:
            raise ParamsError(f"evaluate.every must be >= 0, got {self.every}")
        if not 0 < self.face_threshold <= 1:  # 0 would count every image, found face or not
            raise ParamsError(f"evaluate.face_threshold must be in (0, 1], got {self.face_threshold}")
        _seed("evaluate.seed", self.seed)
        _seed("evaluate.report_seed", self.report_seed)
        if abs(self.report_seed - self.seed) < 4:  # each set draws from seed, seed + 1, seed + 2 and seed + 3
            raise ParamsError(f"evaluate.report_seed must differ from evaluate.seed ({self.seed}) by at least 4, got {self.report_seed}: the report set would share latent vectors with the selection set")


@dataclass(frozen=True)
class ClassifyParams:
    resolution: int = 32  # images are shrunk to this side first: attributes and categories survive, training is fast
    width: int = 32  # channels of the first conv layer (doubled at each of the three downsamplings)
    epochs: int = 6  # passes over the training share
    batch_size: int = 64  # images per optimisation step
    lr: float = 0.001  # Adam learning rate
    holdout: float = 0.2  # share of the real images kept out of training to measure accuracy
    seed: int = 0  # seeds the split, the weights and the data order

    def __post_init__(self) -> None:
        for name in ("resolution", "width", "epochs", "batch_size", "lr"):
            _positive(f"classify.{name}", getattr(self, name))
        if not 0 < self.holdout < 1:
            raise ParamsError(f"classify.holdout must be in (0, 1), got {self.holdout}")
        _seed("classify.seed", self.seed)


@dataclass(frozen=True)
class RenderParams:
    points: int = 6  # latent points the GIF passes through before looping back to the first
    frames_per_transition: int = 12  # frames between two consecutive points
    hold_frames: int = 4  # extra frames each latent point is held for, so the faces themselves can be seen
    fps: int = 12  # frames per second of every animation
    formats: list[Literal["gif", "mp4"]] = field(default_factory=lambda: ["gif"])  # animation files to write (mp4 via imageio-ffmpeg)
    grid: int = 3  # interp_grid: grid x grid interpolations playing side by side; 0: none
    strip_steps: int = 10  # images in the interpolation strip (Razzaq showed 10)
    upscale: int = 2  # nearest-neighbour enlargement for viewing
    progress: bool = True  # progress animation of the fixed latent grid across the training snapshots (Kaladjian)
    seed: int = 7  # seeds the latent points
    # vector arithmetic (Razzaq, Radford et al. 2015): mean latent of group 0 - group 1 + group 2,
    # each group an attribute expression over the classifier's predictions (category names for conditional models)
    arithmetic: list[str] = field(default_factory=lambda: ["Smiling and not Male", "not Smiling and not Male", "not Smiling and Male"])
    directions: list[str] = field(default_factory=lambda: ["Smiling", "Male"])  # attributes swept as mean(with) - mean(without)
    arithmetic_samples: int = 2000  # generated images classified to find the groups
    group_size: int = 16  # latent vectors averaged per group (Radford et al. averaged 3; docs/evaluation.md on why 16)
    sweep_frames: int = 24  # frames of a direction sweep from -sweep_range to +sweep_range
    sweep_range: float = 2.0  # how far along a direction the sweep goes, in units of its length
    arithmetic_noise: float = 1.0  # variations of a - b + c: uniform noise of +-this (per dimension of a standard-normal z) added to the result

    def __post_init__(self) -> None:
        if self.points < 2:
            raise ParamsError(f"render.points must be >= 2, got {self.points}")
        if self.strip_steps < 2:
            raise ParamsError(f"render.strip_steps must be >= 2, got {self.strip_steps}")
        for name in ("frames_per_transition", "fps", "upscale", "arithmetic_samples", "group_size", "sweep_frames", "sweep_range"):
            _positive(f"render.{name}", getattr(self, name))
        for name in ("hold_frames", "grid", "arithmetic_noise"):
            if getattr(self, name) < 0:
                raise ParamsError(f"render.{name} must be >= 0, got {getattr(self, name)}")
        if self.arithmetic and len(self.arithmetic) != 3:
            raise ParamsError(f"render.arithmetic must list three groups (a - b + c) or none, got {len(self.arithmetic)}")
        if not self.formats:
            raise ParamsError("render.formats must name at least one of 'gif', 'mp4'")
        _seed("render.seed", self.seed)
        from ganlab.data.select import compile_expression  # late: ganlab.data imports this module

        # the syntax now, not after training; the names are checked against the classifier's at render time
        for key in ("arithmetic", "directions"):
            for i, text in enumerate(getattr(self, key)):
                compile_expression(text, f"render.{key}[{i}]")


SECTIONS: dict[str, type] = {
    "data": DataParams,
    "crop": CropParams,
    "prepare": PrepareParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
    "classify": ClassifyParams,
    "render": RenderParams,
}


def parse(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and mistyped values."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where} must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        if key not in names:
            raise ParamsError(_unknown(f"{where}.{key}", key, names))
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except TypeError as e:  # a missing field without default
        raise ParamsError(f"{where}: {e}") from None
    except ParamsError as e:
        raise ParamsError(_in_section(str(e), where, names)) from None


def _in_section(message: str, where: str, names: list[str]) -> str:
    """A validation message with its key's section: a model's params class (and the guard
    within it) can serve several sections, so it names its keys bare ("steps must be > 0"),
    and the section they were read from ("dcgan.steps") is added here."""
    first = message.split(" ", 1)[0].split("[", 1)[0]
    return f"{where}.{message}" if first in names else message


def _unknown(full: str, key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(known)})"
    return f"unknown key '{full}' in params{hint}"


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{where} must be a list, got {value!r}")
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, where)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):  # nan passes every range check
        raise ParamsError(f"{where} must be a finite number, got {value}")
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise ParamsError(f"{where} must be {hint.__name__}, got {value!r}")
    return value


def parse_yaml(text: str):
    """YAML read as YAML 1.2, the way DVC writes params.yaml for `dvc exp run -S`.

    DVC's writer (ruamel.yaml) drops quotes that 1.2 does not need, and a YAML 1.1 reader
    (PyYAML) then reads `aspect: 1:1` as the base-60 integer 61 and `lr_g: 1e-05` as a string.
    """
    return YAML(typ="safe", pure=True).load(text)


def read_yaml(path: str | Path) -> dict:
    """Read params.yaml as a mapping, with a one-line error when it is missing or malformed."""
    try:
        raw = parse_yaml(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ParamsError(f"params file not found: {path}") from None
    except YAMLError as e:
        raise ParamsError(f"{path} is not valid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:  # ruamel's parser recurses once per level of nesting
        raise ParamsError(f"{path} nests its values too deeply to read") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must hold a mapping of sections")
    return raw


def model_names() -> list[str]:
    """Every model there is: a package ganlab/models/<name>/ with a params.py. Read from the
    folder, not imported, so that a data stage knows the model sections' names without loading
    (or depending on) any model's code or params."""
    return sorted(p.parent.name for p in (Path(__file__).parent / "models").glob("*/params.py"))


class ByModelName(Mapping):
    """Model name -> `attr` of the module ganlab.models.<name>.<module>, imported when first
    asked for (MODEL_PARAMS, ganlab.models.REGISTRY).

    Found by the package's name rather than listed: a list would be a file every model's stages
    depend on, and adding a model would rerun them all.
    """

    def __init__(self, module: str, attr: str):
        self.module, self.attr = module, attr

    def __getitem__(self, name: str) -> Any:
        if name not in model_names():
            raise KeyError(name)
        return getattr(importlib.import_module(f"ganlab.models.{name}.{self.module}"), self.attr)

    def __iter__(self) -> Iterator[str]:
        return iter(model_names())

    def __len__(self) -> int:
        return len(model_names())


def load(path: str | Path = "params.yaml", models: Mapping[str, type] | None = None) -> dict[str, Any]:
    """Validate params.yaml; return section name -> dataclass.

    Every section but the models' is parsed, and every top-level key must name a section or a
    model (model_names), as must each name in train.models. `models` maps model names to their
    params classes: those models' sections are parsed too, and checked against what prepare
    makes. The data stages pass none, so no model's params is imported or a dep of theirs; a
    model's train stage passes its own (ganlab.model_params.MODEL_PARAMS[name]); tools that
    want every section checked pass MODEL_PARAMS itself.
    """
    raw = read_yaml(path)
    names = model_names()
    known = [*SECTIONS, *names]
    for key in raw:
        if key not in known:
            raise ParamsError(_unknown(str(key), str(key), known))
    out = {name: parse(cls, raw.get(name), name) for name, cls in SECTIONS.items()}
    for name in out["train"].models:
        if name not in names:
            raise ParamsError(f"train.models: unknown model '{name}' (known: {', '.join(names)})")
    for name, cls in (models or {}).items():
        out[name] = parse(cls, raw.get(name), name)
    for name in out["train"].models:  # before training; ganlab.presets checks every model before a stage runs
        if name in out:
            problem = out[name].data_problem(name, out["prepare"].resolution, len(out["prepare"].categories))
            if problem:
                raise ParamsError(problem)
    return out


def to_dict(params: Any) -> dict:
    """A dataclass as plain data (for JSON beside checkpoints and for MLflow)."""
    return dataclasses.asdict(params)
