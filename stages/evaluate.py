"""DVC stage evaluate: FID and face rate of one trained model."""

from ganlab import cli, params
from ganlab.evaluate import evaluate


def main() -> None:
    a = cli.stage_args(__doc__, "model", "data", "stats", "metrics")
    m = evaluate(a.model, a.data, a.stats, a.metrics, params.load(a.params)["evaluate"])
    print(f"evaluate: fid={m['fid']} face_rate={m['face_rate']} (real {m['face_rate_real']})")


if __name__ == "__main__":
    cli.run(main)
