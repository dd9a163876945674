"""DVC stage prepare: select, resize and store the crops with their attributes and labels in one npz."""

from ganlab import params, stage
from ganlab.prepare import prepare


def main() -> None:
    a = stage.args(__doc__, "crops", "raw", "out")
    s = prepare(a.crops, a.raw, a.out, params.load(a.params)["prepare"])
    print(f"prepare: {s['images']} images of {s['size']}" + (f", categories {s['categories']}" if "categories" in s else ""))


if __name__ == "__main__":
    stage.run(main)
