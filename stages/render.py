"""DVC stage render: interpolation animations, strip, training progress and latent arithmetic of one model."""

from ganlab import params, stage
from ganlab.render import render


def optional_paths(ap) -> None:
    ap.add_argument("--training", help="the model's training folder (its samples/ make the progress animation)")
    ap.add_argument("--classifier", help="the attribute classifier's folder (for the latent arithmetic)")


def main() -> None:
    a = stage.args(__doc__, "model", "out", "metrics", "info", extra=optional_paths)
    p = params.load(a.params)["render"]
    written = render(a.model, a.out, p, training_dir=a.training, classifier_dir=a.classifier, metrics_path=a.metrics, info_path=a.info)
    for path in written.values():
        print(f"render: wrote {path}")


if __name__ == "__main__":
    stage.run(main)
