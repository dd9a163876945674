"""The README's pictures: samples of each default model and one interpolation, from the default run.

    python -m ganlab.pictures            # after `dvc repro`: remake docs/img/ and the README block
    python -m ganlab.pictures --check    # the README block and docs/img/ belong to the run in dvc.lock

Each model's picture is a grid of images the picked snapshot (data/best/<model>, what evaluate
chose) draws from fixed latents; the interpolation is the render stage's slerp loop. The files
are small enough for git. docs/img/pictures.json records the DVC hash of every model folder they
came from, and `--check` (the test suite runs it) fails when dvc.lock now records another: the
pictures are always of the run whose numbers dvc.lock and the metrics files hold.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from ganlab.errors import GanlabError

BEGIN = "<!-- pictures:begin (python -m ganlab.pictures) -->"
END = "<!-- pictures:end -->"
MANIFEST = "pictures.json"
# the block while no pictures of the default run are kept (docs/img/pictures.json absent)
NO_PICTURES = f"{BEGIN}\nNo pictures of the current default run are kept yet: run `make repro`, then `.venv/bin/python -m ganlab.pictures`.\n{END}"
ROWS, COLUMNS, SEED = 3, 8, 0  # each model's grid: ROWS x COLUMNS images of latents seeded SEED


def locked_hash(lock: dict, path: str) -> str:
    """The hash dvc.lock records for the output `path` of some stage."""
    for stage in lock.get("stages", {}).values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out["md5"]
    raise GanlabError(f"dvc.lock records no output {path}: run `dvc repro` first")


def sample_grid(model_dir: Path, out: Path) -> None:
    """ROWS x COLUMNS images of the model in model_dir, from latents seeded SEED, as one PNG."""
    import imageio.v3 as iio
    import numpy as np

    from ganlab.folder import load_generator
    from ganlab.generator import generate, latents
    from ganlab.grid import tile
    from ganlab.io import atomic_path

    G, meta = load_generator(model_dir, "cpu")
    n = ROWS * COLUMNS
    k = meta.get("num_classes") or 0
    labels = None
    if k:
        import torch

        labels = torch.arange(n) % k
    images = np.concatenate(list(generate(G, latents(n, meta["nz"], SEED), n, labels)))
    with atomic_path(out) as tmp:
        iio.imwrite(tmp, tile(images, COLUMNS, pad=2), extension=".png")


def block(manifest: dict) -> str:
    """The README's Markdown between the markers, from the manifest alone."""
    lines = [f"{BEGIN}"]
    for model, entry in manifest["models"].items():
        lines.append(f"**{model}** (the snapshot at step {entry['step']}):\n")
        lines.append(f"![{model} samples](docs/img/{entry['samples']})\n")
    interp = manifest["interpolation"]
    lines.append(f"**{interp['model']}**, a slerp loop through {interp['points']} latent points (`data/renders/{interp['model']}/interp_slerp.gif`):\n")
    lines.append(f"![{interp['model']} interpolation](docs/img/{interp['file']})\n")
    lines.append(f"{manifest['made']}\n{END}")
    return "\n".join(lines)


def make(models: list[str], interpolate: str, points: int, best: Path, renders: Path, out: Path, lock_path: Path) -> dict:
    """Write the pictures and the manifest into `out`; return the manifest."""
    import yaml

    lock = yaml.safe_load(lock_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"models": {}}
    for model in models:
        folder = best / model
        meta = json.loads((folder / "model.json").read_text())
        sample_grid(folder, out / f"samples_{model}.png")
        manifest["models"][model] = {"samples": f"samples_{model}.png", "step": meta["selected"]["step"], "dvc_hash": locked_hash(lock, f"{best.as_posix()}/{model}")}
    gif = renders / interpolate / "interp_slerp.gif"
    if not gif.exists():
        raise GanlabError(f"no {gif}: run `dvc repro` first")
    shutil.copyfile(gif, out / f"interp_{interpolate}.gif")
    manifest["interpolation"] = {"model": interpolate, "file": f"interp_{interpolate}.gif", "points": points, "dvc_hash": locked_hash(lock, f"{renders.as_posix()}/{interpolate}")}
    manifest["made"] = (
        f"Made by `python -m ganlab.pictures` from the default run in `dvc.lock` (train.seed 0): {ROWS} x {COLUMNS} images of latents seeded {SEED}"
        " from each model's picked snapshot."
    )
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def check(readme: str, out: Path, lock_path: Path) -> list[str]:
    """What is wrong with the README's pictures: a block other than the manifest's, a missing
    file, or a model folder whose hash dvc.lock no longer records (another run)."""
    import yaml

    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except FileNotFoundError:  # none kept: the README must say so, not show older ones
        return [] if NO_PICTURES in readme else [f"no {out / MANIFEST}, yet the README's pictures block is not the empty one: run python -m ganlab.pictures"]
    lock, problems = yaml.safe_load(lock_path.read_text()), []
    if block(manifest) not in readme:
        problems.append("the README's pictures block differs from the manifest's")
    entries = [(f"data/best/{m}", e, e["samples"]) for m, e in manifest["models"].items()]
    interp = manifest["interpolation"]
    entries.append((f"data/renders/{interp['model']}", interp, interp["file"]))
    for path, entry, file in entries:
        if not (out / file).exists():
            problems.append(f"missing {out / file}")
        try:
            if locked_hash(lock, path) != entry["dvc_hash"]:
                problems.append(f"{file} is of another run than dvc.lock's {path}")
        except GanlabError as e:
            problems.append(str(e))
    return problems


def splice(readme: str, new_block: str) -> str:
    """README text with its pictures block (markers included) replaced by `new_block`."""
    from ganlab.results import replace_block

    return replace_block(readme, BEGIN, END, new_block)


def main(argv: list[str] | None = None) -> int:
    from ganlab import params
    from ganlab.model_params import MODEL_PARAMS

    ap = argparse.ArgumentParser(prog="python -m ganlab.pictures", description=__doc__.splitlines()[0])
    ap.add_argument("--readme", default="README.md")
    ap.add_argument("--out", default="docs/img", help="where the pictures go (default: docs/img)")
    ap.add_argument("--lock", default="dvc.lock")
    ap.add_argument("--interpolation", help="the model whose slerp loop is shown (default: the last of train.models)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the README's pictures are not those of the run in dvc.lock")
    a = ap.parse_args(argv)
    try:
        readme = Path(a.readme).read_text()
        if a.check:
            problems = check(readme, Path(a.out), Path(a.lock))
            for p in problems:
                print(f"error: {p}", file=sys.stderr)
            return 1 if problems else 0
        p = params.load("params.yaml", MODEL_PARAMS)
        models = p["train"].models
        manifest = make(models, a.interpolation or models[-1], p["render"].points, Path("data/best"), Path("data/renders"), Path(a.out), Path(a.lock))
        Path(a.readme).write_text(splice(readme, block(manifest)))
    except (GanlabError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"pictures: {len(manifest['models'])} sample grids and one interpolation in {a.out}; README block rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
