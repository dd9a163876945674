"""DVC stage evaluate: FID, face rate and offline distribution metrics over one model's snapshots; the best becomes --out."""

from ganlab import params, stage
from ganlab.evaluate import data_is_faces, evaluate


def main() -> None:
    a = stage.args(__doc__, "model", "data", "stats", "classifier", "out", "metrics", "info", "curve")
    p = params.load(a.params)
    faces = data_is_faces(p["evaluate"].faces, p["data"].source)
    m = evaluate(a.model, a.data, a.stats, a.out, a.metrics, a.curve, p["evaluate"], a.classifier, info_path=a.info, faces=faces)
    space = "onet" if faces[0] else "random_cnn"
    print(
        f"evaluate: step {m['selected_step']} picked by {m['selected_by']}: fid={m['fid']} face_rate={m['face_rate']} (real {m['face_rate_real']})"
        f" fd_{space}={m[f'fd_{space}']} (real {m[f'fd_{space}_real']}) recall_{space}={m[f'recall_{space}']} (real {m[f'recall_{space}_real']})"
    )


if __name__ == "__main__":
    stage.run(main)
