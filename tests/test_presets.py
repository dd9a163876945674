"""Every report's preset validates and trains end to end on the embedded synthetic faces."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from ganlab import params
from ganlab.model_params import MODEL_PARAMS
from ganlab.data.synthetic import render_face
from ganlab.errors import GanlabError
from ganlab.folder import load_generator
from ganlab.generator import generate, latents
from ganlab.io import save_npz
from ganlab.presets import apply, read_preset
from ganlab.train import train

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ["kaladjian-wgan128", "razzaq-cdcgan64", "penne-pggan256", "lukaszyk-dcgan-lsun64", "lukaszyk-wgangp-lsun64", "lukaszyk-wgangp2-lsun64"]
STABILISED = {"lukaszyk-dcgan-lsun64-diffaugment": "lukaszyk-dcgan-lsun64"}  # preset -> the report's preset it extends


def load_params(path):
    return params.load(path, MODEL_PARAMS)


@pytest.fixture
def workspace(mlflow_store):
    tmp_path = mlflow_store
    shutil.copy(ROOT / "params.yaml", tmp_path)
    shutil.copytree(ROOT / "presets", tmp_path / "presets")
    return tmp_path


def faces(resolution: int, n: int = 8) -> np.ndarray:
    return np.stack([np.asarray(render_face(0, i)[0].resize((resolution, resolution))) for i in range(n)])


@pytest.mark.parametrize("name", [*REPORTS, *STABILISED])
def test_preset_trains_on_embedded_data(workspace, name):
    preset = read_preset(name, workspace)
    model = preset["train"]["models"][0]
    apply(name, workspace, {model: {"steps": 2, "batch_size": 4}, "train": {"checkpoint_every": 1, "sample_every": 2, "grid_size": 2}})
    merged = yaml.safe_load((workspace / "params.yaml").read_text())
    for section, values in preset.items():  # the preset's keys reached params.yaml, the rest stayed
        for key, value in values.items():
            if key not in ("steps", "batch_size", "checkpoint_every", "sample_every"):
                got = merged[section][key]
                assert ({k: got[k] for k in value} if isinstance(value, dict) else got) == value, f"{section}.{key}"
    assert merged["classify"] == yaml.safe_load((ROOT / "params.yaml").read_text())["classify"]  # no preset sets it
    p = load_params(workspace / "params.yaml")
    resolution = p["prepare"].resolution
    n_classes = len(p["prepare"].categories)
    labels = {"labels": np.arange(8) % n_classes} if n_classes else {}
    save_npz(workspace / "faces.npz", images=faces(resolution), **labels)

    train(model, p[model], p["train"], workspace / "faces.npz", workspace / "model", workspace / "m.json", workspace / "h.csv", progress=False)
    G, meta = load_generator(workspace / "model")
    out = np.concatenate(list(generate(G, latents(2, meta["nz"], 0), labels=None)))
    assert out.shape == (2, resolution, resolution, 3) and out.dtype == np.uint8


def test_unknown_preset_is_named(workspace):
    with pytest.raises(GanlabError, match="no preset 'nope'.*razzaq-cdcgan64"):
        apply("nope", workspace)


def test_bad_preset_leaves_params_yaml_alone(workspace):
    before = (workspace / "params.yaml").read_text()
    (workspace / "presets" / "broken.yaml").write_text("dcgan:\n  widht: 3\n")
    with pytest.raises(GanlabError, match="dcgan.widht"):
        apply("broken", workspace)
    assert (workspace / "params.yaml").read_text() == before


@pytest.mark.parametrize("name", STABILISED)
def test_a_stabilised_preset_is_its_reports_recipe_plus_the_stabilisers(workspace, name):
    apply(STABILISED[name], workspace)
    recipe = params.to_dict(load_params(workspace / "params.yaml")["dcgan"])
    shutil.copy(ROOT / "params.yaml", workspace / "params.yaml")
    apply(name, workspace)
    stabilised = load_params(workspace / "params.yaml")
    changed = {k: v for k, v in params.to_dict(stabilised["dcgan"]).items() if recipe[k] != v}
    assert changed == {"augment": ["translation"], "xflip": True, "minibatch_std": True}
    assert stabilised["data"].source == "lsun_bedroom" and stabilised["dcgan"].steps == 12000  # the report's, inherited


def test_a_preset_that_extends_itself_is_named(workspace):
    (workspace / "presets" / "a.yaml").write_text("extends: b\n")
    (workspace / "presets" / "b.yaml").write_text("extends: a\ndcgan:\n  steps: 3\n")
    before = (workspace / "params.yaml").read_text()
    with pytest.raises(GanlabError, match="preset 'a' extends itself: a -> b -> a"):
        apply("a", workspace)
    assert (workspace / "params.yaml").read_text() == before


@pytest.mark.parametrize("name", REPORTS)
def test_report_presets_keep_their_reports_recipe_not_the_defaults_tuning(workspace, name):
    """params.yaml tunes the default models for a short CPU run (stabilisers on, higher learning
    rates, one critic step); a report's preset, merged over it, must train the report's recipe:
    every key of its model's section is the preset's own or the params class's default."""
    preset = yaml.safe_load((workspace / "presets" / f"{name}.yaml").read_text())
    apply(name, workspace)
    p = load_params(workspace / "params.yaml")
    for model in p["train"].models:
        own, defaults = preset.get(model) or {}, params.to_dict(MODEL_PARAMS[model]())
        inherited = {k: v for k, v in params.to_dict(p[model]).items() if k not in own and v != defaults[k]}
        assert inherited == {}, model


def test_the_default_run_tunes_what_a_preset_must_not_inherit():
    """The check above can fail: params.yaml's dcgan section differs from DCGANParams' defaults."""
    tuned = load_params(ROOT / "params.yaml")["dcgan"]
    assert {"lr_g", "augment", "xflip"} <= {k for k, v in params.to_dict(tuned).items() if v != params.to_dict(MODEL_PARAMS["dcgan"]())[k]}
