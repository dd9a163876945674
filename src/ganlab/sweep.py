"""Seed sweeps: DVC experiments grouped by everything but their seeds, summarised as distributions.

One training run says little: the seed alone moves a face rate by 0.2. The documented way to
measure a configuration is DVC's own sweep,

    dvc exp run --queue -S 'train.seed=range(0,3)'
    dvc queue start -j 2

after which `ganlab results` reads the experiments (`dvc exp show --json`), puts those whose
params differ only in seed keys (or in the render section: see AFTER_THE_NUMBERS) into one group,
and gives each group's models the median and min-max of every compared metric. A seed key is any
param named `seed` or ending in `_seed`.

Torch-free. The key a group shares is ganlab.config_key's of the params less AFTER_THE_NUMBERS'
sections; the config tag of its MLflow runs is the key of all of them, so runs that differ only
in render settings share a group here but not a tag.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ganlab.config_key import config_key, flatten, is_seed_key
from ganlab.errors import GanlabError

# Sections read only after every compared number is measured (render draws from the trained,
# evaluated models): runs that differ there trained the same models and measured the same metrics.
AFTER_THE_NUMBERS = ("render",)


def sweep_key(params: dict) -> str:
    """The key of a seed sweep's group: config_key of the params (nested) less AFTER_THE_NUMBERS'
    sections and the seed keys."""
    return config_key({k: v for k, v in params.items() if k not in AFTER_THE_NUMBERS})


# (metric file stem, key, label, digits) of what a group is summarised by, in column order; keys
# absent from every run of a group (FID without Inception weights, a face rate of non-faces,
# the other feature space) are left out of its table
COMPARED = (
    ("evaluate", "face_rate", "face rate", 3),
    ("evaluate", "fd_onet", "Fréchet distance (ONet)", 3),
    ("evaluate", "precision_onet", "precision (ONet)", 2),
    ("evaluate", "recall_onet", "recall (ONet)", 2),
    ("evaluate", "fd_random_cnn", "Fréchet distance (random CNN)", 3),
    ("evaluate", "precision_random_cnn", "precision (random CNN)", 2),
    ("evaluate", "recall_random_cnn", "recall (random CNN)", 2),
    ("evaluate", "fid", "FID", 2),
    ("evaluate", "class_accuracy_generated", "conditional accuracy", 3),
    ("train", "train_seconds", "train time (s)", 0),
)
# dvc exp show's executor states of experiments that have not finished (or never will)
UNFINISHED = ("queued", "running", "failed")
# how each run was made, read from its train_info.json (diagnostics, not a dvc exp show column)
MADE_WITH = ("device", "cpu", "precision", "memory_format")


@dataclass
class Run:
    """One experiment: its name, commit, params (flattened) and per-model metrics."""

    name: str
    rev: str
    params: dict
    metrics: dict[str, dict[str, dict]]  # model -> stage ("train", "evaluate", ...) -> metrics
    made_with: dict[str, dict] = field(default_factory=dict)  # model -> MADE_WITH values

    @property
    def config(self) -> str:
        return sweep_key(_nest(self.params))

    @property
    def seeds(self) -> dict:
        return {k: v for k, v in self.params.items() if is_seed_key(k)}

    def to_json(self) -> dict:
        return {"name": self.name, "rev": self.rev, "params": self.params, "metrics": self.metrics, "made_with": self.made_with}

    @classmethod
    def from_json(cls, d: dict) -> "Run":
        return cls(d["name"], d["rev"], d["params"], d["metrics"], d.get("made_with", {}))


def _nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def _model_metrics(metrics: dict) -> dict[str, dict[str, dict]]:
    """dvc exp show's {'metrics/<model>/<stage>.json': {'data': {...}}} -> {model: {stage: {...}}}."""
    out: dict[str, dict[str, dict]] = {}
    for path, entry in (metrics or {}).items():
        parts = Path(path).parts
        if len(parts) == 3 and parts[0] == "metrics" and path.endswith(".json") and (entry or {}).get("data"):
            out.setdefault(parts[1], {})[Path(parts[2]).stem] = entry["data"]
    return out


def parse_exp_show(rows: list[dict]) -> list[Run]:
    """The experiments (not baselines, not the workspace) in `dvc exp show --json`'s output that
    finished with metrics. Failed and queued ones have none; a running one shows the metrics of
    its temporary copy, its baseline's until it writes its own: all are left out."""
    runs = []
    for row in rows:
        for exp in row.get("experiments") or []:
            if (exp.get("executor") or {}).get("state") in UNFINISHED:
                continue
            for rev in exp.get("revs") or []:
                data = rev.get("data") or {}
                metrics = _model_metrics(data.get("metrics"))
                if not metrics or rev.get("error"):
                    continue
                params = flatten(((data.get("params") or {}).get("params.yaml") or {}).get("data") or {})
                runs.append(Run(exp.get("name") or rev.get("name") or rev["rev"][:7], rev["rev"], params, metrics))
    return runs


def _dvc(repo: Path, *args: str) -> str:
    import shutil

    exe = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    r = subprocess.run([exe, *args], cwd=repo, capture_output=True, text=True)
    if r.returncode != 0:
        raise GanlabError(f"dvc {' '.join(args)} failed in {repo}: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    return r.stdout


def _made_with(repo: Path, rev: str, model: str) -> dict:
    """MADE_WITH of one model's run, from the experiment's train_info.json: a DVC output, read
    through DVC at the experiment's commit (from git where it is committed, else from the cache)."""
    import dvc.api

    try:
        info = json.loads(dvc.api.read(f"metrics/{model}/train_info.json", repo=str(repo), rev=rev))
    except Exception as e:  # a run of other code, or an output not in this cache: unknown, not fatal
        print(f"warning: how {model} was made in experiment {rev[:7]} is unknown: {type(e).__name__}", file=sys.stderr)
        return {}
    return {k: info[k] for k in MADE_WITH if k in info}


def collect(repo: str | Path = ".", all_commits: bool = False) -> list[Run]:
    """Every finished experiment DVC knows in repo (of HEAD's baseline, or of all commits)."""
    repo = Path(repo)
    rows = json.loads(_dvc(repo, "exp", "show", "--json", *(["--all-commits"] if all_commits else [])) or "[]")
    runs = parse_exp_show(rows)
    for run in runs:
        run.made_with = {model: _made_with(repo, run.rev, model) for model in run.metrics}
    return runs


@dataclass
class Group:
    """Runs whose params differ only in seed keys."""

    config: str
    runs: list[Run]
    differs: dict  # the non-seed params in which this group differs from the others

    @property
    def models(self) -> list[str]:
        seen: dict[str, None] = {}
        for run in self.runs:
            seen.update(dict.fromkeys(run.metrics))
        return list(seen)


def group(runs: list[Run]) -> list[Group]:
    """Runs grouped by sweep_key, in first-seen order, each with what sets it apart."""
    by: dict[str, list[Run]] = {}
    for run in runs:
        by.setdefault(run.config, []).append(run)
    groups = []
    all_keys = {k for run in runs for k in run.params if not is_seed_key(k)}
    varying = sorted(k for k in all_keys if len({json.dumps(r.params.get(k), sort_keys=True) for r in runs}) > 1)
    for key, members in by.items():
        groups.append(Group(key, members, {k: members[0].params.get(k) for k in varying}))
    return groups


@dataclass(frozen=True)
class Spread:
    n: int
    median: float
    low: float
    high: float

    def text(self, digits: int) -> str:
        f = f"{{:.{digits}f}}"
        return f"{f.format(self.median)} [{f.format(self.low)}–{f.format(self.high)}]"


def spread(values: list[float]) -> Spread:
    return Spread(len(values), statistics.median(values), min(values), max(values))


def summarise(g: Group) -> dict[str, dict[str, Spread]]:
    """model -> metric key -> Spread over the group's runs that have it."""
    out: dict[str, dict[str, Spread]] = {}
    for model in g.models:
        for stage, key, _, _ in COMPARED:
            values = [run.metrics[model][stage][key] for run in g.runs if model in run.metrics and run.metrics[model].get(stage, {}).get(key) is not None]
            if values:
                out.setdefault(model, {})[key] = spread(values)
    return out


def made_with(g: Group) -> dict[str, str]:
    """model -> how its runs were made ('bf16, channels_last, CPU ... (n=3)'), distinct values joined."""
    out = {}
    for model in g.models:
        seen = [", ".join(str(run.made_with.get(model, {}).get(k)) for k in MADE_WITH if run.made_with.get(model, {}).get(k)) for run in g.runs]
        out[model] = "; ".join(f"{text} (n={seen.count(text)})" for text in dict.fromkeys(seen) if text) or "unknown"
    return out


def markdown(g: Group, models: list[str] | None = None) -> str:
    """One group as a Markdown table: a row per model (those of `models`, in its order, when
    given), median [min–max] per metric, n."""
    stats = summarise(g)
    if models is not None:
        stats = {m: stats[m] for m in models if m in stats}
    keys = [(stage, key, label, digits) for stage, key, label, digits in COMPARED if any(key in m for m in stats.values())]
    header = ["model", "n", *(label for _, _, label, _ in keys)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, metrics in stats.items():
        n = max(s.n for s in metrics.values())
        cells = [metrics[key].text(digits) + ("" if metrics[key].n == n else f" (n={metrics[key].n})") if key in metrics else "n/a" for _, key, _, digits in keys]
        lines.append("| " + " | ".join([model, str(n), *cells]) + " |")
    return "\n".join(lines) + "\n"


def report(groups: list[Group]) -> str:
    """Every group: a heading with its runs and what sets it apart, then its table (Markdown)."""
    parts = []
    for g in groups:
        seeds = ", ".join(f"{r.name} ({', '.join(f'{k}={v}' for k, v in r.seeds.items() if k == 'train.seed')})" for r in g.runs)
        apart = ", ".join(f"{k}={v}" for k, v in g.differs.items()) or "the only configuration"
        made = "; ".join(f"{m}: {t}" for m, t in made_with(g).items())
        parts.append(f"### config {g.config}: {apart}\n\n{len(g.runs)} runs: {seeds}\n\nMade with: {made}\n\n{markdown(g)}")
    return "\n".join(parts) if parts else "no finished experiments\n"


def save(runs: list[Run], path: str | Path) -> None:
    from ganlab.io import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps([r.to_json() for r in runs], indent=1, sort_keys=True) + "\n")


def load(path: str | Path) -> list[Run]:
    try:
        return [Run.from_json(d) for d in json.loads(Path(path).read_text())]
    except FileNotFoundError:
        raise GanlabError(f"no saved sweep at {path} (run the sweep, then `ganlab results --save {path}`)") from None
