"""DVC stage crop: MTCNN face detection and square crops."""

from ganlab import params, stage
from ganlab.crop import crop_faces


def main() -> None:
    a = stage.args(__doc__, "raw", "out", "metrics")
    m = crop_faces(a.raw, a.out, a.metrics, params.load(a.params)["crop"])
    print(f"crop: {m['faces']}/{m['images']} faces at {m['images_per_second']} images/s")


if __name__ == "__main__":
    stage.run(main)
