"""One-off: do the offline feature spaces separate a collapsed generator from real data?

Compares ONet's features (evaluate's choice for faces), the classify stage's network (its
pooled 256-d features, trained on the real images' attributes) and the untrained random CNN
(evaluate's choice for other data) on the same image sets, each against the same real
reference half (the even rows of the first 2n images, as evaluate reads them):

- real: the odd rows (the floor a perfect generator reaches),
- one face: one real crop (not in the reference) repeated n times: full collapse,
- ten faces: ten real crops repeated: partial collapse,
- generators given with --model (a model folder, e.g. data/best/dcgan): their first n samples.

    PYTHONPATH=src python tests/benchmarks/compare_feature_spaces.py --data data/prepared/faces.npz \\
        --classifier data/classifier --n 300 [--model data/best/dcgan ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ganlab import features
from ganlab.classifier import load_classifier, shrink
from ganlab.dataset import open_dataset
from ganlab.faces import face_rate, load_mtcnn
from ganlab.folder import load_generator
from ganlab.generator import generate, latents


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--model", action="append", default=[])
    a = ap.parse_args()
    torch.set_num_threads(1)

    with open_dataset(a.data) as data:
        real = data.rows[: 3 * a.n]
    ref, held, spare = real[0 : 2 * a.n : 2], real[1 : 2 * a.n : 2], real[2 * a.n :]
    sets = {"real (held-out half)": held, "one face (full collapse)": np.repeat(spare[:1], a.n, 0), "ten faces (partial collapse)": np.resize(spare[:10], held.shape)}
    for folder in a.model:
        G, meta = load_generator(folder, "cpu")
        sets[f"generator {folder}"] = np.concatenate(list(generate(G, latents(a.n, meta["nz"], 0), 64)))

    mtcnn = load_mtcnn()
    clf = load_classifier(a.classifier, "attributes")
    trunk = clf.net[:-1].eval()  # pooled features, without the attribute head

    @torch.no_grad()
    def classifier_features(images: np.ndarray) -> np.ndarray:
        return trunk(shrink(images, clf.resolution).float().div(127.5).sub(1)).double().numpy()

    spaces = {"onet": features.feature_extractor("onet", mtcnn=mtcnn), "classifier": classifier_features, "random_cnn": features.feature_extractor("random_cnn")}
    print(f"{a.n} images per set vs {a.n} real reference images of {a.data}, k={a.k}")
    print("| set | face rate | " + " | ".join(f"fd / precision / recall ({s})" for s in spaces) + " |")
    print("|---|---|" + "---|" * len(spaces))
    ref_feats = {s: features.features_of_array(f, ref, 64) for s, f in spaces.items()}
    for name, images in sets.items():
        cells = [f"{face_rate(mtcnn, images[:200], 0.9):.3f}"]
        for s, f in spaces.items():
            m = features.distribution_metrics(ref_feats[s], features.features_of_array(f, images, 64), s, a.k)
            fd, p, r = (m[k] for k in features.metric_names(s))
            cells.append(f"{fd:.4g} / {p:.3f} / {r:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
