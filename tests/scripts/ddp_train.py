"""Run by tests/test_train.py under torchrun: train a tiny model (argv[2]), write this rank's digest."""

import json
import os
import sys
from pathlib import Path

import torch

from ganlab.model_params import GuardParams
from ganlab.models import REGISTRY
from ganlab.params import TrainParams
from ganlab.train import train, weights_digest

tmp, model = Path(sys.argv[1]), sys.argv[2]
guard = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}  # GuardParams fields; {}: off
mp = REGISTRY[model].Params(steps=4, batch_size=4, width=4, nz=8, guard=GuardParams(**guard))
tp = TrainParams(checkpoint_every=2, sample_every=2, log_every=1, grid_size=2, device="cpu")
torch.manual_seed(0)
initial = weights_digest(*REGISTRY[model](mp).build(16))  # train() seeds the same way before building
stop = int(sys.argv[4]) if len(sys.argv) > 4 else 0  # > 0: every process stops after this step, as a kill would


def on_step(step):
    if step == stop:
        sys.exit(0)


m = train(model, mp, tp, tmp / "faces.npz", tmp / model, tmp / f"{model}.json", tmp / f"{model}.csv", progress=False, on_step=on_step, resume_root=tmp / "resume")
(tmp / f"{model}_rank{os.environ['RANK']}.json").write_text(json.dumps({**m, "initial_digest": initial}))
