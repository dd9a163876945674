"""DVC stage real_stats: Inception statistics of the prepared real images, once per dataset."""

from ganlab import cli, params
from ganlab.fid import real_stats


def main() -> None:
    a = cli.stage_args(__doc__, "data", "out")
    real_stats(a.data, a.out, params.load(a.params)["evaluate"])


if __name__ == "__main__":
    cli.run(main)
