"""The offline distribution metrics (ganlab.features): precision and recall by hand, and real
MTCNN / ONet on real face crops from generators that collapse, copy the data, or vary.

Real faces are synthetic faces cropped at their true boxes with crop's margin and shrunk to
64 px, as prepare stores them. "Generators" are tiny modules behind `generator.generate`:
one that returns one real crop whatever z (full collapse), one that returns unseen real crops
(a perfect generator), so the face rate, the Fréchet distance and recall are tested on the
cases they exist for.
"""

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab import features
from ganlab.data.synthetic import render_face
from ganlab.evaluate import data_is_faces, pick
from ganlab.faces import face_rate, load_mtcnn, square_crop_box
from ganlab.generator import generate, latents

N = 60  # images per set: each real half, and each generator's samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest


def real_crops(count: int, first: int = 0) -> np.ndarray:
    """uint8 (count, 64, 64, 3) synthetic faces cropped at their true boxes, as prepare stores them."""
    out = []
    for i in range(first, first + count):
        image, _, box = render_face(0, i)
        out.append(np.asarray(image.crop(square_crop_box(box, 0.15)).resize((64, 64), Image.BICUBIC)))
    return np.stack(out)


class Replay(torch.nn.Module):
    """A generator that returns stored images in order, one per latent vector; with one image,
    the same image whatever z (a fully collapsed generator)."""

    def __init__(self, images: np.ndarray):
        super().__init__()
        self.register_buffer("images", torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1))  # (K, 3, 64, 64)
        self.next = 0
        self.dummy = torch.nn.Parameter(torch.zeros(1))  # generate() asks a parameter for the device

    def forward(self, z, labels=None):
        idx = (torch.arange(len(z)) + self.next) % len(self.images)
        self.next += len(z)
        return self.images[idx]


@pytest.fixture(scope="module")
def faces():
    """Real crops: the reference half, the held-out half, and unseen ones a copying generator returns."""
    crops = real_crops(4 * N)
    return crops[0 : 2 * N : 2], crops[1 : 2 * N : 2], crops[2 * N :]


@pytest.fixture(scope="module")
def mtcnn():
    return load_mtcnn()


def sample(G, n=N):
    return np.concatenate(list(generate(G, latents(n, 8, 0), 16)))


def test_precision_and_recall_by_hand():
    real = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)  # a unit square: every k=1 radius is 1
    fake = np.array([[0.5, 0.5], [0.6, 0.5], [5, 5]], float)  # k=1 radii 0.1, 0.1 and |(5,5)-(0.6,0.5)| = 6.29
    assert np.allclose(features.knn_radii(real, 1), 1.0)
    assert np.allclose(features.knn_radii(fake, 1), [0.1, 0.1, np.hypot(4.4, 4.5)])
    # precision: (0.5, 0.5) and (0.6, 0.5) lie within 1 of a corner, (5, 5) is 5.66 from (1, 1)
    # recall: only (1, 1) lies inside a fake ball, (5, 5)'s: 5.66 <= 6.29; (1, 0) and (0, 1) are 6.40 away
    precision, recall = features.precision_recall(real, fake, k=1)
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(1 / 4)
    # k=2 widens the real balls to sqrt(2): still not reaching (5, 5); the fake radii become 6.29, 6.36, 6.36
    precision, recall = features.precision_recall(real, fake, k=2)
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(1.0)  # (0, 0) is 0.71 from (0.5, 0.5), etc.


def test_identical_samples_have_radius_zero():
    x = np.repeat(np.array([[0.1, 0.7, 0.3]]), 5, axis=0)
    assert (features.knn_radii(x, 3) == 0).all()  # exactly: no |a|^2 + |b|^2 - 2ab rounding
    with pytest.raises(ValueError, match="k=5"):
        features.knn_radii(x, 5)


def test_collapsed_generator_has_a_high_face_rate_but_no_recall(faces, mtcnn):
    """One real face whatever z: MTCNN finds a face in every sample, the offline metrics see the
    collapse. A generator returning unseen real faces is the diverse case beside it."""
    ref, _, unseen = faces
    onet = features.feature_extractor("onet", mtcnn=mtcnn)
    real = features.features_of_array(onet, ref, 32)
    collapsed, diverse = sample(Replay(unseen[:1])), sample(Replay(unseen))
    assert face_rate(mtcnn, collapsed, 0.9) == 1.0  # the face rate cannot tell
    bad = features.distribution_metrics(real, features.features_of_array(onet, collapsed, 32), "onet")
    good = features.distribution_metrics(real, features.features_of_array(onet, diverse, 32), "onet")
    assert bad["recall_onet"] <= 1 / N and good["recall_onet"] >= 0.6
    assert bad["fd_onet"] > 5 * good["fd_onet"]  # measured 1.53 against 0.158 (60 samples in 256-d)
    assert bad["precision_onet"] >= 0.9  # the one face is a good face: precision cannot tell either


@pytest.mark.parametrize("space", features.SPACES)
def test_a_generator_of_real_images_reaches_the_real_floor(faces, space):
    """Unseen real crops score as a held-out real half does, within the spread of that floor
    over other held-out halves; the spaces are also the ones evaluate uses for other data."""
    ref, held, unseen = faces
    extract = features.feature_extractor(space)
    real = features.features_of_array(extract, ref, 32)
    floor = [features.distribution_metrics(real, features.features_of_array(extract, half, 32), space) for half in (held, unseen[:N], unseen[N:])]
    copy = features.distribution_metrics(real, features.features_of_array(extract, sample(Replay(np.concatenate([held[N // 2 :], unseen[: N // 2]]))), 32), space)
    collapsed = features.distribution_metrics(real, features.features_of_array(extract, sample(Replay(unseen[:1])), 32), space)
    for key in features.metric_names(space):
        values = [f[key] for f in floor]
        spread = max(values) - min(values)
        assert min(values) - spread <= copy[key] <= max(values) + spread, (key, copy[key], values)
    fd, _, recall = features.metric_names(space)
    assert collapsed[fd] > 5 * max(f[fd] for f in floor) and collapsed[recall] <= 1 / N


def test_random_cnn_is_the_same_network_every_time():
    images = real_crops(4)
    torch.manual_seed(123)
    a = features.feature_extractor("random_cnn")(images)
    after = torch.rand(1)  # building the network drew nothing from torch's RNG
    torch.manual_seed(7)
    b = features.feature_extractor("random_cnn")(images)  # and torch's RNG does not change it
    assert np.array_equal(a, b) and a.shape == (4, 256) and a.std() > 0.01
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after)


def test_which_data_are_faces():
    assert data_is_faces(None, "synthetic")[0] and data_is_faces(None, "celeba")[0] and data_is_faces(None, "folder")[0]
    faces, why = data_is_faces(None, "lsun_bedroom")
    assert not faces and "lsun_bedroom" in why
    assert data_is_faces(False, "celeba") == (False, "evaluate.faces is false")


def test_pick_by_the_offline_distance_without_fid():
    curve = [
        {"step": 500, "fid": None, "face_rate": 0.95, "fd_onet": 1.9},  # a collapsed snapshot: good faces, one of them
        {"step": 1000, "fid": None, "face_rate": 0.80, "fd_onet": 0.2},
        {"step": 1500, "fid": None, "face_rate": None, "fd_onet": 0.2},
    ]
    row, by, why = pick(curve, "best", offline="fd_onet")
    assert (row["step"], by) == (1500, "fd_onet") and "not FID" in why and "0.2" in why
    assert pick(curve[:2], "best")[0]["step"] == 500  # by face rate alone, the collapse would win
    assert pick([{**r, "fid": 9.0} for r in curve], "best", offline="fd_onet")[1] == "fid"  # FID first where there is one


def test_bad_params_name_their_key():
    from ganlab.params import EvaluateParams, ParamsError, RenderParams

    with pytest.raises(ParamsError, match="evaluate.nearest_k"):
        EvaluateParams(nearest_k=0)
    with pytest.raises(ParamsError, match=r"evaluate.feature_samples must be > evaluate.nearest_k \(3\)"):
        EvaluateParams(feature_samples=3)
    with pytest.raises(ParamsError, match="render.arithmetic_noise"):
        RenderParams(arithmetic_noise=-0.1)
