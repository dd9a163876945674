"""DVC stage crop: MTCNN face detection and square crops."""

from ganlab import cli, params
from ganlab.crop import crop_faces


def main() -> None:
    a = cli.stage_args(__doc__, "raw", "out", "metrics")
    m = crop_faces(a.raw, a.out, a.metrics, params.load(a.params)["crop"])
    print(f"crop: {m['faces']}/{m['images']} faces at {m['images_per_second']} images/s")


if __name__ == "__main__":
    cli.run(main)
