"""Resume exactness on a device: a run interrupted at a checkpoint and resumed against an
uninterrupted one, per model, on the given device (the test suite checks it on the CPU).

    PYTHONPATH=src python tests/benchmarks/check_resume.py --device cuda

Prints, per model and precision, whether the final weights digests are equal. Deterministic
algorithms are requested (CUBLAS_WORKSPACE_CONFIG set); an op without a deterministic CUDA
kernel only warns, and the digest comparison says whether that mattered.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch  # noqa: E402

from ganlab.model_params import MODEL_PARAMS  # noqa: E402
from ganlab.params import TrainParams  # noqa: E402
from ganlab.train import train  # noqa: E402


class Interrupt(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--data", default="data/prepared/faces.npz")
    ap.add_argument("--steps", type=int, default=60)
    a = ap.parse_args()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    cases = {
        "dcgan": MODEL_PARAMS["dcgan"](steps=a.steps, batch_size=32, width=16),
        "wgan_gp": MODEL_PARAMS["wgan_gp"](steps=a.steps, batch_size=32, width=16, n_critic=2, dropout=0.1, instance_noise=0.01),  # device RNG: GP mixing, dropout, noise
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, mp in cases.items():
            for precision in ("fp32", "bf16"):
                tp = TrainParams(device=a.device, precision=precision, checkpoint_every=a.steps // 3, sample_every=a.steps, log_every=5)
                run = lambda tag, on_step=None: train(name, mp, tp, a.data, tmp / f"{name}-{precision}-{tag}", tmp / "m.json", tmp / f"{tag}.csv", progress=False, on_step=on_step, tracking=False)  # noqa: E731

                def stop(step):
                    if step == a.steps // 3:
                        raise Interrupt

                whole = run("whole")["weights_digest"]
                try:
                    run("split", stop)
                except Interrupt:
                    pass
                resumed = run("split")["weights_digest"]
                same_history = (tmp / "whole.csv").read_text() == (tmp / "split.csv").read_text()
                print(f"{a.device} {name:<8} {precision}: uninterrupted {whole}, interrupted at step {a.steps // 3} and resumed {resumed}: {'EQUAL' if whole == resumed else 'DIFFERENT'}; loss history {'equal' if same_history else 'different'}", flush=True)


if __name__ == "__main__":
    main()
