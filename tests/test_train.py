"""The shared trainer: resume after an interruption, params-change refusal, guard, DDP."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from dvcrepo import mlflow_runs

from ganlab.guard import GuardParams, LossGuard
from ganlab.io import save_npz
from ganlab.models import REGISTRY
from ganlab.params import TrainParams
from ganlab.train import GeneratorEMA, save_grid, train, weights_digest

ROOT = Path(__file__).resolve().parents[1]


class Interrupt(Exception):
    pass


@pytest.fixture
def setup(mlflow_store):
    tmp_path = mlflow_store
    rng = np.random.default_rng(0)
    save_npz(tmp_path / "faces.npz", images=rng.integers(0, 256, (24, 16, 16, 3), dtype=np.uint8))
    mp = REGISTRY["dcgan"].Params(steps=6, batch_size=4, width=4, nz=8)
    tp = TrainParams(checkpoint_every=3, sample_every=3, log_every=1, grid_size=2, device="cpu")
    return tmp_path, mp, tp


def run(tmp, name, mp, tp, on_step=None):
    return train("dcgan", mp, tp, tmp / "faces.npz", tmp / name, tmp / f"{name}.json", tmp / f"{name}.csv", progress=False, on_step=on_step, resume_root=tmp / f"{name}-resume")


def checkpoints(tmp, name, model="dcgan"):
    """The checkpoints run `name` left to resume from (its resume folders: one per fingerprint)."""
    return sorted((tmp / f"{name}-resume" / model).glob("*/checkpoint.pt"))


def stop_at(step):
    def on_step(s):
        if s == step:
            raise Interrupt

    return on_step


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_after_interruption_matches_an_uninterrupted_run(setup, precision):
    """Bitwise in fp32; in bf16 autocast (CPU) the resumed run reaches the same weights as an
    uninterrupted bf16 run."""
    tmp, mp, tp = setup
    tp = TrainParams(**{**tp.__dict__, "precision": precision})
    torch.use_deterministic_algorithms(True)
    try:
        whole = run(tmp, "whole", mp, tp)
        with pytest.raises(Interrupt):
            run(tmp, "split", mp, tp, on_step=stop_at(3))  # right after the step-3 checkpoint
        assert len(checkpoints(tmp, "split")) == 1
        assert not (tmp / "split").exists()  # the model folder is built in the resume folder, moved when done
        seen = []
        resumed = run(tmp, "split", mp, tp, on_step=seen.append)
    finally:
        torch.use_deterministic_algorithms(False)
    assert seen == [4, 5, 6]  # resumed, not restarted
    assert resumed["weights_digest"] == whole["weights_digest"]
    a = torch.load(tmp / "whole/generator.pt", weights_only=True)
    b = torch.load(tmp / "split/generator.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp / "whole.csv").read_text() == (tmp / "split.csv").read_text()
    assert not (tmp / "split-resume/dcgan").exists()  # finished: nothing left to resume
    assert sorted(p.name for p in (tmp / "split").iterdir()) == ["generator.pt", "model.json", "samples", "snapshots"]


STABILISED = {"augment": ["color", "translation", "cutout"], "xflip": True, "spectral_norm": True, "minibatch_std": True, "r1": 0.1, "r1_every": 2}


def test_resume_with_every_stabiliser_matches_an_uninterrupted_run(setup):
    """Augmentation and flips draw from the checkpointed latent stream, spectral norm's power
    iteration vectors are buffers in D's state, and lazy R1 is a function of the step (due at 2
    and 4, on either side of the step-3 interruption): a resumed run ends bit-identical."""
    tmp, mp, tp = setup
    mp = type(mp)(**{**mp.__dict__, **STABILISED})
    torch.use_deterministic_algorithms(True)
    try:
        whole = run(tmp, "whole", mp, tp)
        with pytest.raises(Interrupt):
            run(tmp, "split", mp, tp, on_step=stop_at(3))
        seen = []
        resumed = run(tmp, "split", mp, tp, on_step=seen.append)
        plain = run(tmp, "plain", type(mp)(**{**mp.__dict__, "augment": []}), tp)
    finally:
        torch.use_deterministic_algorithms(False)
    assert seen == [4, 5, 6]
    assert resumed["weights_digest"] == whole["weights_digest"]
    assert plain["weights_digest"] != whole["weights_digest"]  # the stabilisers did change the run
    assert (tmp / "whole.csv").read_text() == (tmp / "split.csv").read_text()


def test_changed_params_warning_names_the_key(setup, capsys):
    tmp, mp, tp = setup
    with pytest.raises(Interrupt):
        run(tmp, "m", mp, tp, on_step=stop_at(3))
    capsys.readouterr()
    with pytest.raises(Interrupt):
        run(tmp, "m", type(mp)(**{**mp.__dict__, "lr_g": 1e-3}), tp, on_step=stop_at(1))
    err = capsys.readouterr().err
    assert "not resuming" in err and "params.lr_g" in err
    assert len(list((tmp / "m-resume/dcgan").iterdir())) == 1  # the stale state is gone, the new run's stays


def test_guard_restores_the_network_that_strays():
    G, D = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    guard = LossGuard(GuardParams(enabled=True), G, D)
    guard.after_step({"loss_d": 1.0, "loss_g": 1.0})  # healthy: weights kept
    kept_g, kept_d = G.weight.detach().clone(), D.weight.detach().clone()
    with torch.no_grad():
        G.weight.add_(1.0)
        D.weight.add_(1.0)
    guard.after_step({"loss_d": 1.0, "loss_g": 9.0})  # G out of bounds, D fine (but not healthy: not kept)
    assert torch.equal(G.weight, kept_g) and not torch.equal(D.weight, kept_d)
    guard.after_step({"loss_d": 1e-4, "loss_g": 3.0})  # D out of bounds
    assert torch.equal(D.weight, kept_d)
    assert guard.restores == {"G": 1, "D": 1}


def test_guard_off_changes_nothing():
    G, D = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    guard = LossGuard(GuardParams(enabled=False), G, D)
    before = weights_digest(G, D)
    guard.after_step({"loss_d": 1.0, "loss_g": 1.0})
    guard.after_step({"loss_d": 100.0, "loss_g": 100.0})
    assert weights_digest(G, D) == before and guard.restores == {"G": 0, "D": 0}


@pytest.mark.parametrize("model, port", [("dcgan", 29531), ("wgan_gp", 29532)])  # wgan_gp: the penalty's double backward under DDP
def test_two_processes_end_with_identical_weights(setup, model, port):
    """torchrun, 2 processes, the gloo backend on CPU: DDP keeps both ranks' weights equal."""
    tmp, _, _ = setup
    torchrun(tmp, port, model, tracking=model == "dcgan")
    digests = [json.loads((tmp / f"{model}_rank{i}.json").read_text())["weights_digest"] for i in range(2)]
    assert digests[0] == digests[1]
    initial = json.loads((tmp / f"{model}_rank0.json").read_text())["initial_digest"]
    assert digests[0] != initial  # they trained, and stayed together
    assert (tmp / model / "generator.pt").exists()  # written once, by rank 0
    if model == "dcgan":  # the run with MLflow on: one run, logged by rank 0 alone
        _, _, runs = mlflow_runs(tmp)
        assert len(runs) == 1 and "loss_d" in runs[0].data.metrics


def torchrun(tmp, port, *args, tracking=False):
    """tests/scripts/ddp_train.py ARGS on 2 processes. MLflow (rank 0 logs) only where asked: it
    adds ~3 s to rank 0's start, which rank 1 waits for, and these tests read nothing from it."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}", "OMP_NUM_THREADS": "1",
           "GANLAB_TRACKING": "on" if tracking else "off"}
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
         str(ROOT / "tests/scripts/ddp_train.py"), str(tmp), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_two_processes_resume_to_the_uninterrupted_weights(setup, tmp_path_factory):
    """torchrun, 2 processes, stopped after the checkpoint at step 2 of 4 and started again: every
    rank's noise stream comes back from the checkpoint, so the weights equal an uninterrupted
    run's (with rank 1 re-seeded on resume they did not)."""
    tmp, _, _ = setup
    other = tmp_path_factory.mktemp("uninterrupted")
    shutil.copy(tmp / "faces.npz", other / "faces.npz")
    torchrun(other, 29534, "dcgan")
    torchrun(tmp, 29535, "dcgan", "{}", "2")
    assert list((tmp / "resume/dcgan").glob("*/checkpoint.pt")) and not (tmp / "dcgan_rank0.json").exists()
    torchrun(tmp, 29536, "dcgan")
    digest = lambda d, i: json.loads((d / f"dcgan_rank{i}.json").read_text())["weights_digest"]  # noqa: E731
    assert digest(tmp, 0) == digest(tmp, 1) == digest(other, 0)


def test_the_loss_guard_decides_alike_on_every_rank(setup):
    """torchrun, 2 processes: with a bound inside the ranks' spread of loss_d (about 1.39-1.43 here),
    a guard reading each rank's own losses rolls D back on one rank and not the other (measured:
    the ranks ended with different weights); on losses averaged across ranks they stay equal."""
    tmp, _, _ = setup
    guard = {"enabled": True, "keep_d": [1.0, 1.41], "bounds_d": [1.0, 1.41], "keep_g": [0.0, 100.0], "bounds_g": [-1.0, 100.0]}
    torchrun(tmp, 29533, "dcgan", json.dumps(guard))
    ranks = [json.loads((tmp / f"dcgan_rank{i}.json").read_text()) for i in range(2)]
    assert ranks[0]["guard_restores_d"] > 0  # the guard acted
    assert ranks[0]["weights_digest"] == ranks[1]["weights_digest"]


def test_ema_warms_up_each_parameter_from_its_own_first_update():
    """A layer that starts training late (a progressive block fading in) is averaged from then
    on, not from the run's start: until it trains the average equals it, and its first update
    moves the average 9/11 of the way, as a fresh run's first update would. A training step
    here is what an optimiser step leaves: a gradient and a changed weight."""
    torch.manual_seed(0)
    G = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    ema = GeneratorEMA(G, 0.999)
    start = G[0].weight.clone()

    def trains(p, by):
        with torch.no_grad():
            p.add_(by)
        p.grad = torch.full_like(p, -by)

    for _ in range(100):
        trains(G[0].weight, 1.0)  # the first layer trains, one unit per step
        ema.update(G)
    assert torch.equal(ema.module[1].weight, G[1].weight)  # the idle layer: untouched, equal
    lag = G[0].weight - ema.module[0].weight  # after 100 warm-up updates the decay is ~0.92: a lag of ~11 steps
    assert 5 < lag.min() and lag.max() < 15 and (ema.module[0].weight - start).min() > 80
    before = ema.module[1].weight.clone()
    G[1].bias.grad = torch.zeros_like(G[1].bias)  # a gradient of zero (alpha 0 at a fade-in's start): unchanged, not started
    trains(G[1].weight, 11.0)  # the second layer starts training at step 101
    ema.update(G)
    assert torch.allclose(ema.module[1].weight, before + 9.0)
    resumed = GeneratorEMA(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)), 0.999)
    resumed.load_state_dict(ema.state_dict())
    assert resumed.ages == [101, 0, 1, 0] and torch.equal(resumed.module[0].weight, ema.module[0].weight)  # ages: weight, bias per layer


def _equal(a, b) -> bool:
    """Deep equality of nested checkpoint data (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_trainer_state_round_trips_every_field(tmp_path):
    """Every field of the trainer's state survives state_dict -> torch.save -> a fresh state,
    after steps that changed all of them (guard on, so its kept copy is filled too)."""
    from ganlab.guard import GuardParams
    from ganlab.train import TrainerState, as_floats, gan_step

    guard = GuardParams(enabled=True, keep_d=[0.0, 100.0], keep_g=[0.0, 100.0])
    mp = REGISTRY["wgan_gp"].Params(steps=3, batch_size=4, width=4, nz=8, n_critic=2, guard=guard)
    tp = TrainParams(device="cpu")
    variant = REGISTRY["wgan_gp"](mp)

    def fresh():
        torch.manual_seed(0)
        return TrainerState(variant, tp, 20, 16, 3, 0, torch.device("cpu"), 0, 1)

    state = fresh()
    images = torch.rand(20, 3, 16, 16) * 2 - 1
    noise = lambda k: torch.randn(k, mp.nz, generator=state.rng.noise)  # noqa: E731
    for step in range(1, 4):
        losses = gan_step(variant, state.G, state.D, state.opt_g, state.opt_d, images[state.data.next(8)], noise)
        state.guard.after_step(as_floats(losses))
        state.ema.update(state.G)
        state.step = step
        state.history.append({"step": step, **as_floats(losses)})
    state.mlflow_run_id = "abc"
    saved = state.state_dict()
    assert set(saved) == set(TrainerState.PARTS) | set(TrainerState.VALUES)
    assert all(saved[k] is not None for k in saved), [k for k in saved if saved[k] is None]
    torch.save(saved, tmp_path / "state.pt")

    other = fresh()
    assert not _equal(other.state_dict()["G"], saved["G"])  # a fresh state differs: the check can fail
    other.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    restored = other.state_dict()
    for key in saved:
        assert _equal(restored[key], saved[key]), key
    torch.manual_seed(1)  # the global stream is restored by load_state_dict, not by this
    other.load_state_dict(saved)
    assert torch.equal(torch.get_rng_state(), saved["rng"]["ranks"][0]["cpu"])


def test_losses_synced_at_log_steps_equal_those_synced_every_step(setup):
    """The loop keeps losses on the device and reads them at log steps only; a run that reads
    them every step (the loss guard does, here with bounds it never leaves) logs the same rows."""
    from ganlab.guard import GuardParams

    tmp, mp, tp = setup
    tp = TrainParams(**{**tp.__dict__, "log_every": 2, "precision": "fp32"})
    lazy = run(tmp, "lazy", mp, tp)
    wide = GuardParams(enabled=True, keep_d=[0.0, 1e9], keep_g=[0.0, 1e9], bounds_d=[-1.0, 1e9], bounds_g=[-1.0, 1e9])
    eager = run(tmp, "eager", type(mp)(**{**mp.__dict__, "guard": wide}), tp)
    assert (tmp / "lazy.csv").read_text() == (tmp / "eager.csv").read_text()
    assert lazy["weights_digest"] == eager["weights_digest"]
    assert len((tmp / "lazy.csv").read_text().splitlines()) == 1 + 3  # header, steps 2, 4, 6


def test_device_batches_equal_host_batches():
    """Batches converted from uint8 where the training runs equal the old whole-set float
    conversion, from host memory and from a set kept on the device (the CPU here)."""
    from ganlab.train import Images

    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    whole = torch.from_numpy(data).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    index = torch.tensor([7, 2, 2, 9])
    for on_device in (False, True):
        for channels_last in (False, True):
            batch = Images(data, torch.device("cpu"), on_device, channels_last).batch(index)
            assert torch.equal(batch, whole[index])
            assert batch.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def test_batches_from_the_prepared_file_equal_the_in_memory_conversion(tmp_path):
    """The trainer reads rows from the streamed npz (#13) instead of converting the whole set
    to float: its batches are bitwise the ones the whole-set conversion gave."""
    from ganlab.dataset import open_dataset, save_dataset
    from ganlab.train import Images

    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, (50, 16, 16, 3), dtype=np.uint8)
    save_dataset(tmp_path / "faces.npz", data)
    whole = torch.from_numpy(data).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    index = torch.randperm(50)[:16]
    with open_dataset(tmp_path / "faces.npz") as ds:
        assert ds.mapped
        for on_device in (False, True):
            assert torch.equal(Images(ds.rows, torch.device("cpu"), on_device, True).batch(index), whole[index])


def test_auto_settings_resolve_per_device(monkeypatch):
    """precision auto: bf16 where the device computes bf16 natively, fp32 elsewhere. Which CPU
    and GPU this runs on cannot be chosen, so the capability checks are replaced (monkeypatch)
    for the cases this machine is not."""
    from ganlab.train import resolve

    tp = TrainParams(data_device="host")
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert resolve(tp, cpu, 0) == {"device": "cpu", "precision": "bf16", "memory_format": "channels_last", "data_on": "host", "compile": False}
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")  # ATEN_CPU_CAPABILITY=avx2
    assert resolve(tp, cpu, 0)["precision"] == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolve(tp, cpu, 0)["precision"] == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve(tp, torch.device("cuda"), 0)["precision"] == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve(tp, torch.device("cuda"), 0)["precision"] == "bf16"
    assert resolve(TrainParams(precision="fp32", memory_format="contiguous", data_device="device"), cpu, 0) == {
        "device": "cpu", "precision": "fp32", "memory_format": "contiguous", "data_on": "device", "compile": False}
    assert resolve(TrainParams(data_device="auto"), cpu, 0)["data_on"] == "host"  # the CPU's memory is the host's


def test_a_corrupt_checkpoint_is_set_aside_with_one_line(setup, capsys):
    """A truncated or garbled checkpoint must not fail every rerun with a traceback."""
    tmp, mp, tp = setup
    with pytest.raises(Interrupt):
        run(tmp, "m", mp, tp, on_step=stop_at(3))
    checkpoints(tmp, "m")[0].write_bytes(b"not a checkpoint")
    capsys.readouterr()
    seen = []
    run(tmp, "m", mp, tp, on_step=seen.append)
    err = capsys.readouterr().err
    assert seen[0] == 1 and "not resuming" in err and "unreadable" in err
    assert len([line for line in err.splitlines() if "warning" in line]) == 1


def test_a_checkpoint_of_other_code_is_not_resumed(setup, capsys, monkeypatch):
    """DVC reruns train@ after a code change while the persisted folder keeps the old
    checkpoint: its fingerprint's code digest differs, so training starts afresh. (The edit is
    simulated by changing what the digest of the sources returns between the two runs.)"""
    import ganlab.train as T

    tmp, mp, tp = setup
    assert T.code_digest() == T.code_digest() and len(T.code_digest()) == 16
    monkeypatch.setattr(T, "code_digest", lambda: "before-the-edit")
    with pytest.raises(Interrupt):
        run(tmp, "m", mp, tp, on_step=stop_at(3))
    monkeypatch.setattr(T, "code_digest", lambda: "after-the-edit")
    capsys.readouterr()
    seen = []
    run(tmp, "m", mp, tp, on_step=seen.append)
    err = capsys.readouterr().err
    assert seen[0] == 1 and "not resuming" in err and "code" in err


def test_the_checkpoint_outlives_a_failure_while_writing_the_metrics(setup, monkeypatch):
    """The checkpoint is removed only once every output is written: a failure (or kill) while
    writing the metrics leaves it, and the rerun resumes instead of training from step 1."""
    import ganlab.train as T

    tmp, mp, tp = setup

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(T, "write_split", broken)
    with pytest.raises(OSError):
        run(tmp, "m", mp, tp)
    assert len(checkpoints(tmp, "m")) == 1
    monkeypatch.undo()
    seen = []
    run(tmp, "m", mp, tp, on_step=seen.append)
    assert seen == [4, 5, 6] and not checkpoints(tmp, "m")


@pytest.mark.parametrize("n, nrow", [(4, 2), (9, 3), (6, 4)])
def test_the_sample_grid_is_torchvisions_make_grid(tmp_path, n, nrow):
    """save_grid tiles without importing torchvision (2.8 s a training process): same pixels."""
    from PIL import Image
    from torchvision.utils import make_grid

    from ganlab.generator import to_uint8

    images = torch.rand(n, 3, 5, 7) * 2.4 - 1.2  # some beyond [-1, 1]: clamped alike
    class Given(torch.nn.Module):  # a "generator" that returns its latents: the images above
        def forward(self, z, labels):
            return z

    save_grid(Given(), images, None, nrow, tmp_path / "grid.png")
    want = to_uint8(make_grid(images, nrow=nrow, padding=2, pad_value=1.0)[None])[0]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "grid.png")), want)


def test_a_training_process_does_not_import_torchvision():
    code = "import sys, ganlab.train; assert 'torchvision' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": "src"})
