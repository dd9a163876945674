"""params.yaml validation: typos and bad values fail with one line naming the key."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ganlab import params
from ganlab.model_params import MODEL_PARAMS
from ganlab.params import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def load_params(path):
    return params.load(path, MODEL_PARAMS)


def write(tmp_path, data) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_repo_params_yaml_is_valid():
    p = load_params(ROOT / "params.yaml")
    assert p["prepare"].resolution == 64
    assert p["dcgan"].width > 0


def test_defaults_fill_missing_keys(tmp_path):
    p = load_params(write(tmp_path, {"dcgan": {"steps": 3}}))
    assert p["dcgan"].steps == 3
    assert p["dcgan"].nz == params.parse(type(p["dcgan"]), {}, "dcgan").nz
    assert p["data"].source == "synthetic"


@pytest.mark.parametrize(
    "data, named",
    [
        ({"dcgan": {"lr_gg": 0.1}}, "dcgan.lr_gg"),
        ({"trian": {"seed": 1}}, "trian"),
        ({"crop": {"margin": 0.1, "marginn": 0.2}}, "crop.marginn"),
    ],
)
def test_unknown_key_is_named(tmp_path, data, named):
    with pytest.raises(ParamsError, match=f"'{named}'"):
        load_params(write(tmp_path, data))


@pytest.mark.parametrize(
    "data, named",
    [
        ({"dcgan": {"steps": "many"}}, "dcgan.steps"),
        ({"dcgan": {"steps": 1.5}}, "dcgan.steps"),
        ({"prepare": {"resolution": 48}}, "prepare.resolution"),
        ({"crop": {"margin": 2.0}}, "crop.margin"),
        ({"train": {"models": ["stylegan9"]}}, "train.models"),
        ({"train": {"device": "tpu"}}, "train.device"),
        ({"data": {"source": "nowhere"}}, "data.source"),
    ],
)
def test_bad_value_is_named(tmp_path, data, named):
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        load_params(write(tmp_path, data))


def test_float_accepts_int(tmp_path):
    assert load_params(write(tmp_path, {"dcgan": {"lr_g": 1}}))["dcgan"].lr_g == 1.0


@pytest.mark.parametrize("stage, section, key, near", [("download", "crop", "marginn", "margin"), ("train", "dcgan", "lr_gg", "lr_g")])
def test_stage_reports_a_bad_key_in_one_line(tmp_path, stage, section, key, near):
    """Every stage checks the sections every stage shares; a model's section is checked by its
    own stages (a data stage imports no model's params: adding a model reruns none of them)."""
    bad = write(tmp_path, {section: {key: 0.1}})
    args = {"download": ["--out", str(tmp_path / "out")],
            "train": ["--model", "dcgan", "--data", "x.npz", "--out", str(tmp_path / "out"), "--metrics", "m.json", "--info", "i.json", "--history", "h.csv"]}[stage]
    r = subprocess.run([sys.executable, str(ROOT / "stages" / f"{stage}.py"), "--params", str(bad), *args], capture_output=True, text=True)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{section}.{key}" in lines[0] and near in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


def test_a_data_stage_leaves_the_model_sections_to_the_models(tmp_path):
    """A model section's typo is not a data stage's to find, but a section that names no model is."""
    assert "dcgan" not in params.load(write(tmp_path, {"dcgan": {"lr_gg": 0.1}}))
    with pytest.raises(ParamsError, match="unknown key 'dcgam'.*dcgan"):
        params.load(write(tmp_path, {"dcgam": {"lr_g": 0.1}}))


def hydra_value(value) -> str:
    """A value as `dvc exp run -S key=VALUE` takes it (Hydra's override grammar)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def leaves(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_params_survive_dvc_set_param_writer(tmp_path):
    """`dvc exp run -S` rewrites params.yaml with DVC's own YAML 1.2 writer: every key set to its
    own value must load back exactly as the original file does."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text())
    original = params.read_yaml(path)
    apply_overrides(str(path), [f"{key}={hydra_value(value)}" for key, value in leaves(original)])
    rewritten = path.read_text()
    assert rewritten != (ROOT / "params.yaml").read_text()  # the writer did rewrite the file...
    assert yaml.safe_load(rewritten)["prepare"]["aspect"] == 61  # ...in a form YAML 1.1 misreads (1:1 in base 60)
    assert params.read_yaml(path) == original
    assert load_params(path) == load_params(ROOT / "params.yaml")


def test_values_typed_on_the_command_line_read_as_dvc_writes_them(tmp_path):
    """What users type after -S: unquoted ratios and floats in exponent form (a string in YAML 1.1)."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text())
    apply_overrides(str(path), ["prepare.aspect=218:178", "dcgan.lr_g=1e-05"])
    p = load_params(path)
    assert p["prepare"].aspect == "218:178"
    assert p["dcgan"].lr_g == 1e-05


@pytest.mark.parametrize(
    "data, message",
    [
        ({"prepare": {"resolution": 16}, "train": {"models": ["wgan"]}}, "prepare.resolution 16 cannot be trained by wgan, which takes 32, 64, 128, 256 px"),
        ({"prepare": {"resolution": 80}}, "prepare.resolution 80 cannot be trained by dcgan"),
        ({"prepare": {"resolution": 16}, "train": {"models": ["progressive"]}, "progressive": {"start_resolution": 32}}, "progressive.start_resolution 32 is above prepare.resolution 16"),
        ({"train": {"models": ["cdcgan"]}}, "cdcgan is conditional: prepare.categories must list the classes it draws"),
    ],
)
def test_data_the_models_cannot_train_on_fails_at_load(tmp_path, data, message):
    """Checked when params are loaded, by every stage: `dvc repro` stops before crop, not at train."""
    with pytest.raises(ParamsError) as e:
        load_params(write(tmp_path, data))
    assert str(e.value).startswith(message)


def test_models_not_trained_are_not_checked_against_the_data(tmp_path):
    assert load_params(write(tmp_path, {"prepare": {"resolution": 16}, "train": {"models": ["dcgan"]}}))["wgan"].resolutions == (32, 64, 128, 256)


def test_variants_take_what_they_train_on_from_their_params():
    from ganlab.models import REGISTRY

    for name, variant in REGISTRY.items():
        assert (variant.resolutions, variant.conditional) == (MODEL_PARAMS[name].resolutions, MODEL_PARAMS[name].conditional), name


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.5])
def test_face_threshold_is_a_probability(tmp_path, value):
    with pytest.raises(ParamsError, match=rf"evaluate\.face_threshold must be in \(0, 1\], got {value}"):
        load_params(write(tmp_path, {"evaluate": {"face_threshold": value}}))


def test_deeply_nested_yaml_is_one_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  path: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ParamsError, match="nests its values too deeply"):
        load_params(path)
