"""DVC stage download: materialise the configured data source in the raw layout."""

from ganlab import cli, params
from ganlab.data.fetch import download


def main() -> None:
    a = cli.stage_args(__doc__, "out")
    download(params.load(a.params)["data"], a.out)


if __name__ == "__main__":
    cli.run(main)
