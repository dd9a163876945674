"""The model folder: every file name of a trained model, and how each is read and written.

A training run writes one folder (data/models/<model>):

    model.json              the resolved params, resolution, classes, MLflow run id
    generator.pt            state_dict of the output generator (the EMA one when train.ema > 0)
    samples/step_*.png      grids of the fixed latent vectors over training
    snapshots/step_*.pt     the output generator's weights at every checkpoint and the last step
    snapshots/index.json    per snapshot: whether G was complete (at full resolution) then

While it trains, the run builds that folder in a scratch folder of its own (ResumeFolder: the
folder so far and the checkpoint to resume from), and moves it into place when it completes: the
model folder is then an ordinary DVC output, which DVC's run cache can hold.

evaluate writes the picked snapshot as a folder of its own (model.json + generator.pt), which
render and the `ganlab` command load; MLflow keeps that folder as the run's artifact `model`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ganlab.errors import GanlabError
from ganlab.io import atomic_path, remove_temporaries, write_json

MODEL_JSON = "model.json"
WEIGHTS = "generator.pt"
SAMPLES = "samples"
SNAPSHOTS = "snapshots"
CHECKPOINT = "checkpoint.pt"  # in the resume folder, beside the model folder being built
FINGERPRINT = "fingerprint.json"  # what the checkpoint was made with, readable without torch
RESUME_ENV = "GANLAB_RESUME_DIR"  # where resume folders go; default: .gl/resume in the checkout the stage runs in
RUN_ARTIFACT = "model"  # the MLflow artifact path evaluate logs the picked model folder under

_STEP_FILE = re.compile(r"step_(\d+)\.(png|pt)")


def step_file(step: int, suffix: str) -> str:
    """step_000250.png: zero-padded so that names sort like steps up to a million."""
    return f"step_{step:06d}.{suffix}"


def _steps(folder: Path, suffix: str) -> list[tuple[int, Path]]:
    """(step, path) of every step_*.<suffix> in folder, in step order (step_1000000 after step_999999)."""
    found = [(int(m.group(1)), f) for f in folder.glob(f"step_*.{suffix}") if (m := _STEP_FILE.fullmatch(f.name))]
    return sorted(found)


@dataclass(frozen=True)
class Snapshot:
    step: int
    path: Path
    complete: bool  # G drew at the data's full resolution (false while progressive growing grows)


class ModelFolder:
    """A trained model's folder; see the module docstring for its layout."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    # --- the model: params and generator weights -------------------------------------------
    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS

    def read_meta(self) -> dict:
        try:
            return json.loads((self.path / MODEL_JSON).read_text())
        except FileNotFoundError:
            raise GanlabError(f"not a trained model folder (no {MODEL_JSON}): {self.path}") from None

    def write_meta(self, meta: dict) -> None:
        write_json(self.path / MODEL_JSON, meta)

    def read_weights(self, device="cpu") -> dict:
        import torch  # late: the ganlab command's --help must not wait for torch

        if not self.weights_path.exists():
            raise GanlabError(f"not a trained model folder (no {WEIGHTS}): {self.path}")
        return torch.load(self.weights_path, map_location=device, weights_only=True)

    def write_weights(self, state: dict) -> None:
        import torch

        with atomic_path(self.weights_path) as tmp:
            torch.save(state, tmp)

    # --- samples over training ----------------------------------------------------------------
    def sample_path(self, step: int) -> Path:
        return self.path / SAMPLES / step_file(step, "png")

    def samples(self) -> list[tuple[int, Path]]:
        """(step, path) of every sample grid, in step order."""
        return _steps(self.path / SAMPLES, "png")

    # --- snapshots: what evaluate scores and picks from ---------------------------------------
    def write_snapshot(self, step: int, state: dict, complete: bool) -> None:
        import torch

        with atomic_path(self.path / SNAPSHOTS / step_file(step, "pt")) as tmp:
            torch.save(state, tmp)
        index = self._snapshot_index()
        index[str(step)] = {"complete": complete}
        write_json(self.path / SNAPSHOTS / "index.json", index)

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot in step order; one the index does not know counts as complete."""
        index = self._snapshot_index()
        return [Snapshot(step, path, index.get(str(step), {}).get("complete", True)) for step, path in _steps(self.path / SNAPSHOTS, "pt")]

    def remove_snapshot(self, step: int) -> None:
        (self.path / SNAPSHOTS / step_file(step, "pt")).unlink(missing_ok=True)
        index = self._snapshot_index()
        if index.pop(str(step), None) is not None:
            write_json(self.path / SNAPSHOTS / "index.json", index)

    def _snapshot_index(self) -> dict:
        path = self.path / SNAPSHOTS / "index.json"
        return json.loads(path.read_text()) if path.exists() else {}

    # --- the folder as a whole ------------------------------------------------------------------
    def start_fresh(self) -> None:
        """Remove what an older run left, so a fresh run's folder holds only its own files."""
        if self.path.exists():
            shutil.rmtree(self.path)

    def remove_temporaries(self) -> None:
        """Remove what writes killed midway left: a resumed run would otherwise move them into
        the DVC output with the model."""
        if self.path.exists():
            remove_temporaries(self.path)

    def make_dirs(self) -> None:
        for sub in (SAMPLES, SNAPSHOTS):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def write_selected(self, meta: dict, snapshot: Snapshot) -> None:
        """Make this folder a model of its own from `snapshot` of a training folder (evaluate's pick)."""
        self.path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snapshot.path, self.weights_path)
        self.write_meta(meta)


class ResumeFolder:
    """Where one training run builds its model folder and keeps the checkpoint to resume from:
    <root>/<model>/<digest of the run's fingerprint>/{model/, checkpoint.pt, fingerprint.json}.

    It lies outside DVC's outputs (DVC deletes those before it reruns a stage, and refuses to
    run-cache a stage with persistent ones) and is keyed by the fingerprint, so a run finds only
    a state made with its own code, params and data. `publish` moves the finished model folder
    to the stage's output and removes the rest.
    """

    def __init__(self, root: str | Path, model: str, fingerprint: dict):
        digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.fingerprint = fingerprint
        self.path = Path(root) / model / digest
        self.model = ModelFolder(self.path / "model")

    def __repr__(self) -> str:
        return f"ResumeFolder({str(self.path)!r})"

    @staticmethod
    def default_root() -> Path:
        """$GANLAB_RESUME_DIR, else .gl/resume in the working directory (the checkout DVC runs
        the stage in; ignored by git and DVC)."""
        return Path(os.environ.get(RESUME_ENV) or ".gl/resume")

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    def read_checkpoint(self) -> dict | None:
        """The checkpoint, or None when there is none or the model folder it belongs with is gone."""
        import torch

        if not self.checkpoint_path.exists() or not self.model.path.is_dir():
            return None
        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)

    def write_checkpoint(self, state: dict) -> None:
        import torch

        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(state, tmp)

    def start_fresh(self) -> None:
        """An empty model folder, and the fingerprint that stale states are compared with."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.model.make_dirs()
        write_json(self.path / FINGERPRINT, self.fingerprint)

    def others(self) -> list[tuple[Path, dict]]:
        """(path, fingerprint) of the same model's resume folders made with other code, params or data."""
        out = []
        for other in sorted(self.path.parent.glob("*")):
            if other != self.path and other.is_dir():
                try:
                    out.append((other, json.loads((other / FINGERPRINT).read_text())))
                except (OSError, ValueError):  # killed before its fingerprint was written
                    out.append((other, {}))
        return out

    def publish(self, out_dir: str | Path) -> None:
        """Move the finished model folder to `out_dir` (replacing what is there), then remove the
        resume folder. A kill between the two leaves a checkpoint without its model folder,
        which read_checkpoint does not resume."""
        out = Path(out_dir)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.model.path), str(out))
        shutil.rmtree(self.path)
        try:  # the model's folder, when this was its last state
            self.path.parent.rmdir()
        except OSError:
            pass


def load_generator(model_dir: str | Path, device="cpu") -> tuple:
    """(generator, meta): a trained generator rebuilt from its folder (model.json + generator.pt), in eval mode."""
    from ganlab.models import REGISTRY
    from ganlab.params import parse

    folder = ModelFolder(model_dir)
    meta = folder.read_meta()
    variant = REGISTRY[meta["model"]](parse(REGISTRY[meta["model"]].Params, meta["params"], meta["model"]))
    G, _ = variant.build(meta["resolution"], meta["channels"], meta.get("num_classes", 0))
    G.load_state_dict(folder.read_weights(device))
    return G.to(device).eval(), meta
