"""DVC stage classify: attribute and category classifiers trained on the prepared real images."""

from ganlab import params, stage
from ganlab.classifier import classify


def main() -> None:
    a = stage.args(__doc__, "data", "out", "metrics")
    m = classify(a.data, a.out, a.metrics, params.load(a.params)["classify"])
    parts = [f"{kind} {r['accuracy']} (chance {r['chance']})" for kind, r in m.items() if r]
    print(f"classify: held-out accuracy {', '.join(parts)}" if parts else "classify: nothing to learn (the data has no attributes or labels)")


if __name__ == "__main__":
    stage.run(main)
