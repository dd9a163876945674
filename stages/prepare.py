"""DVC stage prepare: resize the crops and store them with their attributes in one npz."""

from ganlab import cli, params
from ganlab.prepare import prepare


def main() -> None:
    a = cli.stage_args(__doc__, "crops", "raw", "out")
    prepare(a.crops, a.raw, a.out, params.load(a.params)["prepare"])


if __name__ == "__main__":
    cli.run(main)
