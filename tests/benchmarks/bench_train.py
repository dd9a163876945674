"""Training throughput: the loop a user would otherwise write against ganlab's trainer, side by side.

    PYTHONPATH=src python tests/benchmarks/bench_train.py --device cpu
    PYTHONPATH=src python tests/benchmarks/bench_train.py --device cuda --data data/prepared/faces.npz

reference: pytorch/examples' dcgan/main.py loop: PNG files through torchvision's ImageFolder and
a DataLoader with worker processes, fp32 in the default memory layout, noise drawn on the
device, every loss turned into a Python float every step (the example prints them); with the
same G and D classes, batch size and losses as ganlab's variant (its critic_loss and
generator_loss; n_critic fresh batches per generator step where the variant has a critic).
ganlab: the real trainer, `ganlab.train.train`, on the same images as a prepared npz, with its
automatic choices (precision, memory format, data on the device), MLflow off.

Both run `--warmup` steps and then `--steps` timed steps (the device synchronised at both ends);
the two alternate for `--rounds` rounds and each side's best round is kept (a shared machine's
load comes and goes). img/s counts real images consumed, n_critic batches per step. Needs only
torch, torchvision, numpy and Pillow with PYTHONPATH=src: it runs where DVC and MLflow are not
installed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ganlab.model_params import MODEL_PARAMS
from ganlab.models import REGISTRY
from ganlab.params import TrainParams, parse

ROOT = Path(__file__).resolve().parents[2]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def write_pngs(images: np.ndarray, root: Path) -> Path:
    """The prepared images as PNG files in an ImageFolder layout (one class folder)."""
    from PIL import Image

    folder = root / "faces" / "all"
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:06d}.png")
    return root / "faces"


def reference(name: str, mp, png_root: Path, resolution: int, device: torch.device, warmup: int, steps: int, workers: int) -> float:
    """img/s of the plain loop (see the module docstring)."""
    import torchvision.datasets as dset
    import torchvision.transforms as T

    torch.manual_seed(0)
    variant = REGISTRY[name](mp)
    G, D = variant.build(resolution, 3, 0)
    G, D = G.to(device), D.to(device)
    opt_g, opt_d = variant.optimizers(G, D)
    bs = variant.batch_size(warmup + 1, resolution)  # the trainer's batch (progressive: its 64 px batch)
    transform = T.Compose([T.Resize(resolution), T.CenterCrop(resolution), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])
    loader = torch.utils.data.DataLoader(
        dset.ImageFolder(str(png_root), transform=transform), batch_size=bs, shuffle=True, num_workers=workers, drop_last=True, pin_memory=device.type == "cuda", persistent_workers=workers > 0
    )

    def batches():
        while True:
            for real, _ in loader:
                yield real

    it = batches()
    start = None
    for step in range(1, warmup + steps + 1):
        if step == warmup + 1:
            sync(device)
            start = time.perf_counter()
        variant.set_step(G, D, step, resolution)
        for _ in range(variant.n_critic):
            real = next(it).to(device)
            with torch.no_grad() if not variant.reuse_fake else torch.enable_grad():
                fake = G(torch.randn(bs, mp.nz, device=device))
            loss_d, stats = variant.critic_loss(D, real, fake.detach(), None)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            variant.after_critic_step(D)
            logged = {k: float(v) for k, v in stats.items()}  # the example's errD.item(), D_x = output.mean().item()
        if not variant.reuse_fake:
            fake = G(torch.randn(bs, mp.nz, device=device))
        loss_g, g_stats = variant.generator_loss(D, fake, None)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        logged.update({k: float(v) for k, v in g_stats.items()})
    sync(device)
    return steps * bs * variant.n_critic / (time.perf_counter() - start)


def ganlab(name: str, mp, data: Path, out: Path, device: torch.device, warmup: int, steps: int, options: dict) -> tuple[float, dict]:
    """(img/s over the timed steps, train.json) of ganlab's trainer."""
    from ganlab.train import train

    mp = type(mp)(**{**mp.__dict__, "steps": warmup + steps})
    tp = TrainParams(device=device.type, sample_every=10**9, checkpoint_every=10**9, **options)
    marks = {}

    def on_step(step):
        if step == warmup:
            sync(device)
            marks["start"] = time.perf_counter()

    metrics = train(name, mp, tp, data, out / name, out / f"{name}.json", out / f"{name}.csv", progress=False, on_step=on_step, tracking=False,
                    resume_root=out / "resume")  # not the checkout's .gl/resume: another run there would drop it
    sync(device)
    variant = REGISTRY[name](mp)
    images = sum(variant.batch_size(s, 64) * variant.n_critic for s in range(warmup + 1, warmup + steps + 1))
    return images / (time.perf_counter() - marks["start"]), metrics


def setting(text: str) -> dict:
    """'precision=fp32,compile=true' -> {'precision': 'fp32', 'compile': True}"""
    out = {}
    for kv in filter(None, text.split(",")):
        key, value = kv.split("=", 1)
        out[key] = {"true": True, "false": False}.get(value, value)
    return out


def cases(params_file: Path, device: torch.device) -> list[tuple[str, str, object]]:
    """(label, model, params): the classic DCGAN-64, then the default run's three models at 64 px."""
    raw = yaml.safe_load(params_file.read_text())
    out = [("dcgan classic (width 64, batch 64)", "dcgan", MODEL_PARAMS["dcgan"](width=64, batch_size=64))]
    if device.type == "cuda":
        out.append(("dcgan classic (width 64, batch 256)", "dcgan", MODEL_PARAMS["dcgan"](width=64, batch_size=256)))
    for name in ("dcgan", "wgan_gp", "progressive"):
        section = dict(raw.get(name) or {})
        if name == "progressive":
            section["start_resolution"] = 64  # the 64 px network throughout, no growing
        p = parse(MODEL_PARAMS[name], section, name)
        out.append((f"{name} default (width {p.width}, batch {p.batch_size})", name, p))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--data", default=str(ROOT / "data/prepared/faces.npz"), help="a prepared npz at 64 px")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"), help="the default model sections")
    ap.add_argument("--steps", type=int, default=0, help="timed steps per round (default: 30 on cpu, 200 on cuda)")
    ap.add_argument("--warmup", type=int, default=0, help="untimed steps first (default: 5 on cpu, 30 on cuda)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=min(8, max(1, (os.cpu_count() or 2) // 2)), help="DataLoader workers of the reference")
    ap.add_argument("--only", default="", help="run only the cases whose label contains this text")
    ap.add_argument("--settings", nargs="+", default=[""], help="ganlab columns, each train.* overrides such as precision=fp32,memory_format=contiguous; '' (the default): the automatic choices")
    a = ap.parse_args()
    device = torch.device(a.device)
    steps = a.steps or (200 if device.type == "cuda" else 30)
    warmup = a.warmup or (30 if device.type == "cuda" else 5)
    with np.load(a.data) as z:
        images = z["images"]
    resolution = images.shape[1]
    load = os.getloadavg()[0]
    name_of = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {os.cpu_count()} cores"
    print(f"device {name_of}; torch {torch.__version__}; {len(images)} images at {resolution} px; {steps} timed steps after {warmup}; {a.rounds} rounds; reference workers {a.workers}; load average {load:.2f}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        tmp = Path(tmp)
        png_root = write_pngs(images, tmp)
        for label, name, mp in cases(Path(a.params), device):
            if a.only and a.only not in label:
                continue
            variants = [(f"ganlab {text}".strip(), setting(text)) for text in a.settings]
            best = {"reference": 0.0, **{v: 0.0 for v, _ in variants}}
            chosen = {}
            for r in range(a.rounds):  # alternate, keep each side's best
                best["reference"] = max(best["reference"], reference(name, mp, png_root, resolution, device, warmup, steps, a.workers))
                for v, options in variants:
                    ips, metrics = ganlab(name, mp, Path(a.data), tmp / f"run{r}{v.replace(' ', '_')}", device, warmup, steps, options)
                    best[v] = max(best[v], ips)
                    chosen[v] = {k: metrics.get(k) for k in ("precision", "memory_format", "data_on", "compile")}
                print(f"  {label}: round {r + 1}: " + ", ".join(f"{k} {v:.0f} img/s" for k, v in best.items()), flush=True)
            rows.append((label, best, chosen))
    print("\ncolumns: " + "; ".join(f"[{i}] {v}" for i, v in enumerate(rows[0][1]) if v != "reference") + "; ratio: ganlab (automatic choices) / reference")
    print(f"{'case':<40} {'reference':>10} " + " ".join(f"{f'[{i}]':>8}" for i, v in enumerate(rows[0][1]) if v != "reference") + "   ratio  automatic choices")
    for label, best, chosen in rows:
        others = [v for v in best if v != "reference"]
        first = others[0]
        print(f"{label:<40} {best['reference']:>10.0f} " + " ".join(f"{best[v]:>8.0f}" for v in others) + f"  {best[first] / best['reference']:5.2f}x  {chosen.get(first)}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
