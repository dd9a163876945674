"""The `ganlab` command: samples, interpolations, latent arithmetic and training progress of a
trained model, outside DVC. It calls the same functions as the render stage (ganlab.render).

    ganlab generate    --model DIR | --run RUN_ID  --n 64 --seed 0 [--label NAME|INDEX] --out grid.png|dir/
    ganlab interpolate --model DIR | --run RUN_ID  --seeds 1,7,42 [--method slerp] [--grid N] --out faces.gif|faces.mp4
    ganlab arithmetic  --model DIR | --run RUN_ID  --classifier DIR [--a EXPR --b EXPR --c EXPR] [--directions A,B] --out DIR
    ganlab progress    --model TRAINING_DIR --out progress.gif
    ganlab results     [--repo .] [--markdown FILE] [--save FILE | --load FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ganlab import stage
from ganlab.errors import GanlabError
from ganlab.folder import RUN_ARTIFACT, WEIGHTS
from ganlab.params import RenderParams

if TYPE_CHECKING:
    import torch

# torch (through ganlab.render and ganlab.generator) and mlflow are imported by the commands that
# use them: `--help` and mistyped options answer at once instead of after seconds of imports.

DEFAULTS = RenderParams()  # the command's defaults are the render stage's


def parse_seeds(text: str) -> list[int]:
    """'1,7,42' -> [1, 7, 42]; at least two, since a loop needs two points."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise GanlabError(f"--seeds must be comma-separated integers such as 1,7,42, got '{text}'") from None
    if len(seeds) < 2:
        raise GanlabError(f"--seeds needs at least two seeds to interpolate between, got '{text}'")
    return seeds


def label_index(meta: dict, label: str | None) -> int | None:
    """A class label given by name or index; None for an unconditional model without --label."""
    k = meta.get("num_classes", 0)
    if label is None:
        return None
    if not k:
        raise GanlabError(f"--label {label}: the {meta['model']} model is not conditional")
    names = [str(n) for n in meta.get("category_names", [])]
    if label in names:
        return names.index(label)
    if label.isdigit() and int(label) < k:
        return int(label)
    known = f"names {', '.join(names)} or " if names else ""
    raise GanlabError(f"--label {label}: not one of this model's {k} classes (use {known}an index 0-{k - 1})")


@contextlib.contextmanager
def model_folder(args: argparse.Namespace) -> Iterator[Path]:
    """The model folder named by --model, or the "model" artifact folder of MLflow run --run,
    downloaded into a temporary folder that is removed afterwards."""
    if args.model is not None:
        if not Path(args.model).is_dir():
            raise GanlabError(f"model folder not found: {args.model}")
        yield Path(args.model)
        return
    from ganlab import tracking

    uri = args.tracking_uri or tracking.tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        # MLflow would create an empty store there; say where we looked instead
        raise GanlabError(f"no MLflow store at {uri} (set --tracking-uri or MLFLOW_TRACKING_URI)")
    with tempfile.TemporaryDirectory(prefix="ganlab-run-") as tmp:
        yield download_run_model(args.run, uri, Path(tmp))


def download_run_model(run_id: str, uri: str, dest: Path) -> Path:
    """Download the "model" artifact folder of MLflow run `run_id` into dest; return its path."""
    import logging

    import mlflow
    from mlflow.exceptions import MlflowException

    logging.getLogger("alembic").setLevel(logging.WARNING)  # a store's migrations log at INFO
    client = mlflow.MlflowClient(uri)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise GanlabError(f"MLflow run {run_id} not found in {uri}") from None
    if not any(a.path == RUN_ARTIFACT for a in client.list_artifacts(run_id)):
        raise GanlabError(f"MLflow run {run_id} has no '{RUN_ARTIFACT}' artifact folder (the evaluate stage logs it)")
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=RUN_ARTIFACT, dst_path=str(dest), tracking_uri=uri))


def load(args: argparse.Namespace, folder: Path) -> tuple[torch.nn.Module, dict]:
    """The generator of a model folder on --device."""
    from ganlab.folder import load_generator
    from ganlab.generator import pick_device

    if not (folder / WEIGHTS).exists():
        raise GanlabError(f"not a trained model folder (no {WEIGHTS}): {args.model or f'run {args.run}'}")
    return load_generator(folder, pick_device(args.device))


def cmd_generate(args: argparse.Namespace) -> list[Path]:
    import imageio.v3 as iio
    import numpy as np
    import torch

    from ganlab import render
    from ganlab.generator import generate, latents
    from ganlab.io import atomic_path

    with model_folder(args) as folder:
        G, meta = load(args, folder)
    label = label_index(meta, args.label)
    k, columns = meta.get("num_classes", 0), math.ceil(math.sqrt(args.n))
    # conditional models without --label: one class per row, as in the training sample grids
    labels = torch.full((args.n,), label) if label is not None else (torch.arange(args.n) // columns % k if k else None)
    images = render.upscale(np.concatenate(list(generate(G, latents(args.n, meta["nz"], args.seed), labels=labels))), args.upscale)
    out = Path(args.out)
    if args.out.endswith(("/", os.sep)) or out.is_dir() or not out.suffix:
        paths = [out / f"{i:06d}.png" for i in range(args.n)]
        pairs = zip(paths, images)
    else:
        paths = [out]
        pairs = [(out, render.tile(images, columns, pad=2))]
    for path, image in pairs:
        with atomic_path(path) as tmp:
            iio.imwrite(tmp, image, extension=".png")
    return paths


def cmd_interpolate(args: argparse.Namespace) -> list[Path]:
    seeds = parse_seeds(args.seeds)
    from ganlab import render

    out = render.animation_path(args.out)  # a bad name fails before any work
    with model_folder(args) as folder:
        G, meta = load(args, folder)
    cells = max(args.grid, 1) ** 2
    first = label_index(meta, args.label) or 0
    frames = render.interpolation(
        G, render.seed_points(seeds, meta["nz"], cells), args.frames, args.hold, args.method, render.cell_labels(meta.get("num_classes", 0), cells, first), args.upscale
    )
    return [render.write_animation(out, frames, args.fps)]


def cmd_arithmetic(args: argparse.Namespace) -> list[Path]:
    groups = [args.a, args.b, args.c]
    if any(g is not None for g in groups) and None in groups:
        raise GanlabError("--a, --b and --c go together: the result is a - b + c")
    p = RenderParams(
        arithmetic=groups if args.a is not None else DEFAULTS.arithmetic,
        directions=[d for d in args.directions.split(",") if d] if args.directions is not None else DEFAULTS.directions,
        seed=args.seed,
        upscale=args.upscale,
        fps=args.fps,
    )
    if not Path(args.classifier).is_dir():
        raise GanlabError(f"classifier folder not found: {args.classifier}")
    with model_folder(args) as folder:
        G, meta = load(args, folder)
    from ganlab.arithmetic import render_arithmetic

    return list(render_arithmetic(G, meta, args.classifier, p, args.out, on_read=lambda r: print(f"a - b + c {r.caption()}")).values())


def cmd_progress(args: argparse.Namespace) -> list[Path]:
    from ganlab import render

    out = render.animation_path(args.out)
    return [render.write_animation(out, render.progress_frames(args.model, args.hold, args.upscale), args.fps)]


def cmd_results(args: argparse.Namespace) -> list[Path]:
    """Print the experiments grouped by all but their seeds, each model's metrics as median [min-max]."""
    from ganlab import sweep

    runs = sweep.load(args.load) if args.load else sweep.collect(args.repo, args.all_commits)
    text = sweep.report(sweep.group(runs))
    print(text, end="")
    written = []
    if args.save:
        sweep.save(runs, args.save)
        written.append(Path(args.save))
    if args.markdown:
        from ganlab.io import atomic_path

        with atomic_path(args.markdown) as tmp:
            tmp.write_text(text)
        written.append(Path(args.markdown))
    return written


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    """The `ganlab` argument parser: one subcommand per function above."""
    ap = argparse.ArgumentParser(prog="ganlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_model(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        src = sp.add_mutually_exclusive_group(required=True)
        src.add_argument("--model", help="a trained model folder (model.json + generator.pt), e.g. data/best/dcgan")
        src.add_argument("--run", help="an MLflow run id: its 'model' artifact folder is downloaded and used")
        sp.add_argument("--tracking-uri", help="the MLflow store of --run (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
        sp.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
        return sp

    sp = with_model("generate", "images of random latent vectors: one grid PNG, or one PNG per image in a folder")
    sp.add_argument("--n", type=positive, default=64, help="number of images (default: 64)")
    sp.add_argument("--seed", type=int, default=0, help="seeds the latent vectors (default: 0)")
    sp.add_argument("--label", help="conditional models: class name or index (default: the classes in turn)")
    sp.add_argument("--upscale", type=positive, default=1, help="nearest-neighbour enlargement (default: 1)")
    sp.add_argument("--out", required=True, help="grid.png, or a folder (dir/) for one PNG per image")
    sp.set_defaults(func=cmd_generate)

    sp = with_model("interpolate", "a looping interpolation through one latent point per seed, as GIF or MP4")
    sp.add_argument("--seeds", required=True, help="comma-separated seeds, one latent point each, e.g. 1,7,42")
    sp.add_argument("--method", choices=("slerp", "lerp"), default="slerp")
    sp.add_argument("--frames", type=positive, default=DEFAULTS.frames_per_transition, help="frames between two points (default: %(default)s)")
    sp.add_argument("--hold", type=non_negative, default=DEFAULTS.hold_frames, help="extra frames each point is held for (default: %(default)s)")
    sp.add_argument("--fps", type=positive, default=DEFAULTS.fps, help="frames per second (default: %(default)s)")
    sp.add_argument("--upscale", type=positive, default=DEFAULTS.upscale, help="nearest-neighbour enlargement (default: %(default)s)")
    sp.add_argument("--grid", type=non_negative, default=0, help="N: N x N loops side by side, each through its own points (default: one loop)")
    sp.add_argument("--label", help="conditional models: class name or index of the loop (a grid's first cell; the others take the next classes)")
    sp.add_argument("--out", required=True, help="faces.gif or faces.mp4")
    sp.set_defaults(func=cmd_interpolate)

    sp = with_model("arithmetic", "latent vector arithmetic a - b + c and attribute direction sweeps (needs the classifier)")
    sp.add_argument("--classifier", required=True, help="the attribute classifier's folder, e.g. data/classifier")
    for g, default in zip("abc", DEFAULTS.arithmetic):
        sp.add_argument(f"--{g}", metavar="EXPR", help=f"attribute expression of group {g} (default: '{default}')")
    sp.add_argument("--directions", help=f"comma-separated attributes to sweep (default: {','.join(DEFAULTS.directions)}; '' for none)")
    sp.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seeds the generated samples (default: %(default)s)")
    sp.add_argument("--fps", type=positive, default=DEFAULTS.fps, help="frames per second of the sweeps (default: %(default)s)")
    sp.add_argument("--upscale", type=positive, default=DEFAULTS.upscale, help="nearest-neighbour enlargement (default: %(default)s)")
    sp.add_argument("--out", required=True, help="output folder")
    sp.set_defaults(func=cmd_arithmetic)

    sp = sub.add_parser("progress", help="the sample grids of a training folder in step order, as GIF or MP4")
    sp.add_argument("--model", required=True, help="a training folder with samples/step_*.png, e.g. data/models/dcgan")
    sp.add_argument("--hold", type=non_negative, default=DEFAULTS.hold_frames, help="extra frames each grid is held for (default: %(default)s)")
    sp.add_argument("--fps", type=positive, default=DEFAULTS.fps, help="frames per second (default: %(default)s)")
    sp.add_argument("--upscale", type=positive, default=1, help="nearest-neighbour enlargement (default: 1)")
    sp.add_argument("--out", required=True, help="progress.gif or progress.mp4")
    sp.set_defaults(func=cmd_progress)

    sp = sub.add_parser("results", help="DVC experiments grouped by all but their seeds: median [min-max] of every compared metric per model")
    sp.add_argument("--repo", default=".", help="the DVC repo whose experiments are read (default: .)")
    sp.add_argument("--all-commits", action="store_true", help="experiments of every commit, not only of HEAD")
    sp.add_argument("--markdown", help="also write the summary as Markdown to this file")
    sp.add_argument("--save", help="also write the experiments read (params, metrics, how they were made) as JSON, e.g. metrics/sweep.json")
    sp.add_argument("--load", help="summarise a file written by --save instead of reading DVC")
    sp.set_defaults(func=cmd_results)
    return ap


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `ganlab` command; a GanlabError ends it with one line and status 2."""
    args = parser().parse_args(argv)

    def run() -> None:
        for path in args.func(args):
            print(f"wrote {path}")

    stage.run(run)


if __name__ == "__main__":
    main(sys.argv[1:])
