"""The README's results table is generated from the metrics files, and stays in step with them."""

import json
from pathlib import Path

import pytest
import yaml

from ganlab import results
from ganlab.evaluate import COMPARED as EVAL_COMPARED
from ganlab.io import write_split
from ganlab.train import COMPARED as TRAIN_COMPARED

ROOT = Path(__file__).resolve().parents[1]

TRAIN = {"steps": 1500, "train_seconds": 318.0, "device": "CPU, 2 cores"}
EVAL = {
    "fid": None,
    "fid_unavailable": "no weights",
    "fid_protocol": "1000 generated vs 1940 real images of data/prepared/faces.npz at 64 px, Inception weights: pytorch-fid default",
    "face_rate": 0.985,
    "face_samples": 200,
    "face_rate_real": 0.98,
    "selected_step": 1000,
    "selected_by": "face_rate",
    "last_step": 1500,
}


@pytest.fixture
def project(tmp_path) -> Path:
    offline = {"fd_onet": 1.281, "precision_onet": 0.007, "recall_onet": 0.0, "fd_onet_real": 0.03103, "precision_onet_real": 0.893, "recall_onet_real": 0.93}
    for model, ev in (("dcgan", {**EVAL, **offline, "selected_by": "fd_onet"}), ("wgan_gp", {**EVAL, "fid": 12.3456, "selected_by": "fid"})):
        folder = tmp_path / "metrics" / model
        # as the stages write them: compared numbers in <stage>.json, the rest in <stage>_info.json
        write_split(TRAIN, TRAIN_COMPARED, folder / "train.json", folder / "train_info.json")
        write_split(ev, EVAL_COMPARED, folder / "evaluate.json", folder / "evaluate_info.json")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"train": {"models": ["wgan_gp", "dcgan"]}}))
    (tmp_path / "README.md").write_text(f"# x\n\nbefore\n\n{results.BEGIN}\nold\n{results.END}\n\nafter\n")
    return tmp_path


def args(project: Path, *extra: str) -> list[str]:
    return ["--metrics", str(project / "metrics"), "--readme", str(project / "README.md"), "--params", str(project / "params.yaml"), *extra]


def test_table_rows_follow_train_models(project):
    assert "device" not in json.loads((project / "metrics/dcgan/train.json").read_text())  # read from train_info.json
    assert results.main(args(project, "--check")) == 1  # "old" is not what the metrics say
    assert results.main(args(project)) == 0
    text = (project / "README.md").read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith(f"{results.END}\n\nafter\n")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split(" | ")[0] for r in rows] == ["| wgan_gp", "| dcgan"]
    assert "12.35" in rows[0] and "n/a (no Inception weights)" in rows[1]
    assert "5.3 min on CPU, 2 cores" in rows[1] and "0.985 of 200 (real 0.980)" in rows[1]
    assert "step 1000 of 1500, by fd_onet" in rows[1] and "1000 generated vs 1940 real" in rows[1]
    assert "onet: 1.281 / 0.01 / 0.00 (real 0.03103 / 0.89 / 0.93)" in rows[1] and "n/a (not measured by this run)" in rows[0]
    assert results.main(args(project, "--check")) == 0


def test_missing_metrics_file_is_one_line_error(project, capsys):
    (project / "metrics" / "dcgan" / "evaluate.json").unlink()
    assert results.main(args(project)) == 2
    assert "metrics file not found" in capsys.readouterr().err


def test_readme_table_is_what_the_committed_metrics_say():
    """The README's table is the output of `python -m ganlab.results` on the metrics in git."""
    assert results.main(["--metrics", str(ROOT / "metrics"), "--readme", str(ROOT / "README.md"), "--params", str(ROOT / "params.yaml"), "--check"]) == 0
