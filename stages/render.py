"""DVC stage render: interpolation GIFs and strip of one trained model."""

from ganlab import cli, params
from ganlab.render import render


def main() -> None:
    a = cli.stage_args(__doc__, "model", "out")
    for path in render(a.model, a.out, params.load(a.params)["render"]).values():
        print(f"render: wrote {path}")


if __name__ == "__main__":
    cli.run(main)
