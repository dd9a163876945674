"""DVC stage fid_weights: which FID Inception weights file exists now, by digest (run every time).

real_stats depends on its output, so it reruns when the weights appear or change, not only when
the data or params do.
"""

from ganlab import params, stage
from ganlab.fid_weights import weights_record
from ganlab.io import write_json


def main() -> None:
    a = stage.args(__doc__, "out")
    write_json(a.out, weights_record(params.load(a.params)["evaluate"].fid_weights))


if __name__ == "__main__":
    stage.run(main)
