"""Seed sweeps summarised (ganlab.sweep) and the README's results table generated from the saved
sweep of the default configuration (ganlab.results). The summary over real DVC experiments, queued
and run by DVC, is tested in test_experiments."""

import copy
from pathlib import Path

import pytest

from ganlab import results, sweep

ROOT = Path(__file__).resolve().parents[1]

PARAMS = {"train": {"models": ["wgan_gp", "dcgan"], "seed": 0}, "dcgan": {"lr_g": 0.0002, "steps": 10}, "evaluate": {"seed": 123, "report_seed": 9123}}


def run(name: str, seed: int, face: float, fd: float, secs: float, **changes) -> sweep.Run:
    params = copy.deepcopy(PARAMS)
    params["train"]["seed"] = seed
    for key, value in changes.items():
        section, k = key.split("__")
        params.setdefault(section, {})[k] = value
    ev = {"face_rate": face, "fd_onet": fd, "precision_onet": 0.5, "recall_onet": 0.25, "fid": None, "face_rate_real": 0.98,
          "fd_onet_real": 0.02, "precision_onet_real": 0.88, "recall_onet_real": 0.89}
    metrics = {m: {"evaluate": ev, "train": {"train_seconds": secs, "steps": 10}} for m in ("wgan_gp", "dcgan")}
    made = {m: {"device": "CPU, 2 cores", "precision": "bf16", "memory_format": "channels_last"} for m in metrics}
    return sweep.Run(name, f"{name}-rev", sweep.flatten(params), metrics, made)


RUNS = [run("a", 0, 0.8, 0.5, 100.0), run("b", 1, 0.6, 0.7, 110.0), run("c", 2, 0.9, 0.4, 90.0), run("d", 0, 0.1, 2.0, 50.0, dcgan__lr_g=0.001)]


def test_seed_keys():
    assert all(map(sweep.is_seed_key, ["train.seed", "evaluate.report_seed", "seed"]))
    assert not any(map(sweep.is_seed_key, ["train.seeds", "evaluate.seedling", "dcgan.lr_g"]))


def test_config_key_ignores_seeds_only():
    base = sweep.config_key(PARAMS)
    assert sweep.config_key({**PARAMS, "train": {**PARAMS["train"], "seed": 7}}) == base
    assert sweep.config_key({**PARAMS, "evaluate": {"seed": 1, "report_seed": 99}}) == base
    assert sweep.config_key({**PARAMS, "dcgan": {"lr_g": 0.001, "steps": 10}}) != base
    assert sweep.config_key({**PARAMS, "train": {**PARAMS["train"], "models": ["dcgan"]}}) != base


def test_render_settings_do_not_split_a_sweep():
    """render acts after every compared number: runs that differ only there (the arithmetic
    figure's group size) trained and measured the same, so they are one group, and the README
    table of params.yaml with another render setting still finds it. Any other key splits."""
    runs = [run("a", 0, 0.8, 0.5, 100.0, render__group_size=8), run("b", 1, 0.6, 0.7, 110.0, render__group_size=16)]
    assert [[r.name for r in g.runs] for g in sweep.group(runs)] == [["a", "b"]]
    assert sweep.sweep_key({**PARAMS, "render": {"group_size": 32}}) == sweep.sweep_key(PARAMS) == runs[0].config
    assert sweep.config_key({**PARAMS, "render": {"group_size": 32}}) != sweep.config_key(PARAMS)  # the MLflow tag still tells them apart
    body = results.table(runs, {**PARAMS, "render": {"group_size": 32}}, ["dcgan"])
    assert "| dcgan |" in body and "0.700 [0.600–0.800]" in body  # both runs' face rates, not the no-sweep message


def test_runs_that_differ_in_a_non_seed_key_are_not_grouped():
    groups = sweep.group(RUNS)
    assert [[r.name for r in g.runs] for g in groups] == [["a", "b", "c"], ["d"]]
    assert groups[0].differs == {"dcgan.lr_g": 0.0002} and groups[1].differs == {"dcgan.lr_g": 0.001}


def test_median_and_range_per_model_and_metric():
    stats = sweep.summarise(sweep.group(RUNS)[0])
    assert stats["dcgan"]["face_rate"] == sweep.Spread(3, 0.8, 0.6, 0.9)
    assert stats["wgan_gp"]["fd_onet"] == sweep.Spread(3, 0.5, 0.4, 0.7)
    assert stats["dcgan"]["train_seconds"] == sweep.Spread(3, 100.0, 90.0, 110.0)
    assert "fid" not in stats["dcgan"]  # null in every run: no column
    table = sweep.markdown(sweep.group(RUNS)[0])
    assert "| dcgan | 3 | 0.800 [0.600–0.900] | 0.500 [0.400–0.700] | 0.50 [0.50–0.50] | 0.25 [0.25–0.25] | 100 [90–110] |" in table
    assert "FID" not in table


def test_a_metric_missing_from_some_runs_says_its_n():
    runs = copy.deepcopy(RUNS[:3])
    runs[0].metrics["dcgan"]["evaluate"]["fid"] = 12.0
    assert "12.00 [12.00–12.00] (n=1)" in sweep.markdown(sweep.group(runs)[0])


def test_save_and_load_round_trip(tmp_path):
    sweep.save(RUNS, tmp_path / "sweep.json")
    assert [r.to_json() for r in sweep.load(tmp_path / "sweep.json")] == [r.to_json() for r in RUNS]


@pytest.fixture
def project(tmp_path) -> Path:
    import yaml

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    sweep.save(RUNS, tmp_path / "sweep.json")
    (tmp_path / "README.md").write_text(f"# x\n\nbefore\n\n{results.BEGIN}\nold\n{results.END}\n\nafter\n")
    return tmp_path


def args(project: Path, *extra: str) -> list[str]:
    return ["--sweep", str(project / "sweep.json"), "--readme", str(project / "README.md"), "--params", str(project / "params.yaml"), *extra]


def test_readme_table_is_the_sweep_of_the_current_params(project):
    assert results.main(args(project, "--check")) == 1  # "old" is not what the sweep says
    assert results.main(args(project)) == 0
    text = (project / "README.md").read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith(f"{results.END}\n\nafter\n")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split(" | ")[0] for r in rows] == ["| wgan_gp", "| dcgan"]
    assert "| 3 | 0.800 [0.600–0.900] |" in rows[1]  # the lr 0.001 run is another configuration
    assert "train.seed 0, 1, 2" in text and "bf16, channels_last" in text and "recall 0.89" in text
    assert results.main(args(project, "--check")) == 0


def test_changed_params_leave_no_numbers_of_another_configuration(project, capsys):
    assert results.main(args(project)) == 0
    assert capsys.readouterr().out == f"results: 2 rows written to {project / 'README.md'}\n"
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("steps: 10", "steps: 20"))
    assert results.main(args(project, "--check")) == 1  # the table's numbers are of the old configuration
    assert results.main(args(project)) == 0
    assert capsys.readouterr().out.startswith("results: no table (the sweep holds no runs of this configuration)")
    text = (project / "README.md").read_text()
    assert "No seed sweep of the current configuration" in text and "0.800 [" not in text
    assert "dvc exp run --queue -S 'train.seed=range(0,3)'" in text
    assert results.main(args(project, "--check")) == 0


def test_readme_table_is_what_the_committed_sweep_says():
    """The README's table is `python -m ganlab.results` on metrics/sweep.json, a sweep of params.yaml as it is."""
    assert results.main(["--sweep", str(ROOT / results.SWEEP), "--readme", str(ROOT / "README.md"), "--params", str(ROOT / "params.yaml"), "--check"]) == 0


def exp_show_row(name: str, state: str | None, face: float) -> dict:
    """One experiment as `dvc exp show --json` lists it (the fields parse_exp_show reads), with
    the executor state DVC gives it."""
    metrics = {"metrics/dcgan/evaluate.json": {"data": {"face_rate": face}}, "metrics/dcgan/train.json": {"data": {"steps": 10}}}
    rev = {"rev": f"{name}-rev", "name": name, "data": {"params": {"params.yaml": {"data": {"train": {"seed": 0}}}}, "metrics": metrics}}
    return {"name": name, "executor": {"state": state} if state else None, "revs": [rev]}


def test_only_finished_experiments_are_summarised():
    """A running experiment shows its baseline's metrics until it writes its own (seen in a real
    sweep: all three seeds had the same numbers while two ran); queued and failed ones too."""
    rows = [{"rev": "base", "experiments": [exp_show_row("done", "success", 0.9), exp_show_row("older", None, 0.8),
                                            exp_show_row("busy", "running", 0.7), exp_show_row("waiting", "queued", 0.7),
                                            exp_show_row("broken", "failed", 0.7)]}]
    runs = sweep.parse_exp_show(rows)
    assert [r.name for r in runs] == ["done", "older"]
    assert runs[0].metrics["dcgan"]["evaluate"]["face_rate"] == 0.9
