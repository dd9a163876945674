"""DVC stage evaluate: FID and face rate over one model's snapshots; the best becomes --out."""

from ganlab import cli, params
from ganlab.model_params import MODEL_PARAMS
from ganlab.evaluate import evaluate


def main() -> None:
    a = cli.stage_args(__doc__, "model", "data", "stats", "classifier", "out", "metrics", "info", "curve")
    m = evaluate(a.model, a.data, a.stats, a.out, a.metrics, a.curve, params.load(a.params, MODEL_PARAMS)["evaluate"], a.classifier, info_path=a.info)
    print(f"evaluate: step {m['selected_step']} picked by {m['selected_by']}: fid={m['fid']} face_rate={m['face_rate']} (real {m['face_rate_real']})")


if __name__ == "__main__":
    cli.run(main)
