"""DVC stage real_stats: Inception statistics of the prepared real images, once per dataset."""

from ganlab import params, stage
from ganlab.fid import real_stats


def main() -> None:
    a = stage.args(__doc__, "data", "out")
    real_stats(a.data, a.out, params.load(a.params)["evaluate"])


if __name__ == "__main__":
    stage.run(main)
