"""DVC stage train: train one model (named by --model) with the shared trainer."""

from ganlab import params, stage
from ganlab.model_params import MODEL_PARAMS
from ganlab.errors import GanlabError
from ganlab.train import train


def main() -> None:
    a = stage.args(__doc__, "model", "data", "out", "metrics", "info", "history")
    p = params.load(a.params, {a.model: MODEL_PARAMS[a.model]} if a.model in MODEL_PARAMS else None)  # its own section only
    if a.model not in p["train"].models:
        raise GanlabError(f"--model {a.model} is not listed in train.models ({', '.join(p['train'].models)})")
    m = train(a.model, p[a.model], p["train"], a.data, a.out, a.metrics, a.history, info_path=a.info)
    print(f"train {a.model}: {m['steps']} steps in {m['train_seconds']} s")


if __name__ == "__main__":
    stage.run(main)
