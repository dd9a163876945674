"""The README's pictures are of the default run dvc.lock records (ganlab.pictures)."""

from pathlib import Path

import pytest
import yaml

from conftest import TINY_META, tiny_generator, write_model_folder
from ganlab import pictures

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(tmp_path, monkeypatch) -> Path:
    """A tiny picked DCGAN in data/best/dcgan, a render's GIF, and a dvc.lock recording both."""
    monkeypatch.chdir(tmp_path)
    write_model_folder(tmp_path / "data/best/dcgan", tiny_generator(), {**TINY_META, "selected": {"step": 40}})
    (tmp_path / "data/renders/dcgan").mkdir(parents=True)
    (tmp_path / "data/renders/dcgan/interp_slerp.gif").write_bytes(b"GIF89a-not-really")
    lock = {"stages": {"evaluate@dcgan": {"outs": [{"path": "data/best/dcgan", "md5": "aaa.dir"}]},
                       "render@dcgan": {"outs": [{"path": "data/renders/dcgan", "md5": "bbb.dir"}]}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (tmp_path / "README.md").write_text(f"# x\n\n{pictures.BEGIN}\n{pictures.END}\n\nafter\n")
    manifest = pictures.make(["dcgan"], "dcgan", 6, Path("data/best"), Path("data/renders"), Path("docs/img"), Path("dvc.lock"))
    (tmp_path / "README.md").write_text(pictures.splice((tmp_path / "README.md").read_text(), pictures.block(manifest)))
    return tmp_path


def test_pictures_of_the_locked_run_pass_the_check(run):
    import imageio.v3 as iio

    assert pictures.check((run / "README.md").read_text(), run / "docs/img", run / "dvc.lock") == []
    grid = iio.imread(run / "docs/img/samples_dcgan.png")
    assert grid.shape[0] > 16 * pictures.ROWS and grid.shape[1] > 16 * pictures.COLUMNS  # ROWS x COLUMNS tiles of 16 px
    text = (run / "README.md").read_text()
    assert "![dcgan samples](docs/img/samples_dcgan.png)" in text and "step 40" in text and text.endswith("after\n")


def test_another_run_in_dvc_lock_makes_the_pictures_stale(run):
    lock = (run / "dvc.lock").read_text().replace("aaa.dir", "ccc.dir")
    (run / "dvc.lock").write_text(lock)
    assert pictures.check((run / "README.md").read_text(), run / "docs/img", run / "dvc.lock") == ["samples_dcgan.png is of another run than dvc.lock's data/best/dcgan"]


def test_an_edited_block_or_a_missing_file_is_found(run):
    (run / "docs/img/interp_dcgan.gif").unlink()
    readme = (run / "README.md").read_text().replace("step 40", "step 41")
    assert pictures.check(readme, run / "docs/img", run / "dvc.lock") == [
        "the README's pictures block differs from the manifest's", f"missing {run / 'docs/img/interp_dcgan.gif'}"]


def test_readme_pictures_are_of_the_default_run_in_dvc_lock():
    assert pictures.main(["--readme", str(ROOT / "README.md"), "--out", str(ROOT / "docs/img"), "--lock", str(ROOT / "dvc.lock"), "--check"]) == 0


def test_without_kept_pictures_the_readme_says_so(tmp_path):
    assert pictures.check(f"# x\n{pictures.NO_PICTURES}\n", tmp_path / "img", tmp_path / "dvc.lock") == []
    problems = pictures.check(f"# x\n{pictures.BEGIN}\n![old](docs/img/old.png)\n{pictures.END}\n", tmp_path / "img", tmp_path / "dvc.lock")
    assert len(problems) == 1 and "not the empty one" in problems[0]
