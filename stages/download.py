"""DVC stage download: materialise the configured data source in the raw layout."""

from ganlab import params, stage
from ganlab.data.fetch import download


def main() -> None:
    a = stage.args(__doc__, "out")
    download(params.load(a.params)["data"], a.out)


if __name__ == "__main__":
    stage.run(main)
