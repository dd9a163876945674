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


def test_stage_reports_a_bad_key_in_one_line(tmp_path):
    bad = write(tmp_path, {"dcgan": {"lr_gg": 0.1}})
    r = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "download.py"), "--params", str(bad), "--out", str(tmp_path / "raw")],
        capture_output=True, text=True,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "dcgan.lr_gg" in lines[0] and "lr_g" in lines[0], r.stderr
    assert not (tmp_path / "raw").exists()
