"""The README's results table, generated from the metrics files DVC keeps in git.

`python -m ganlab.results` rewrites the table between the markers in README.md; `--check` fails
when the README's table differs from what the metrics files say (the test suite runs it), so a
number in the README is always one a run wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ganlab.errors import GanlabError
from ganlab.features import SPACES, metric_names

BEGIN = "<!-- results:begin (python -m ganlab.results) -->"
END = "<!-- results:end -->"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise GanlabError(f"metrics file not found: {path} (run `dvc repro` first)") from None


def _fid(ev: dict) -> str:
    return f"{ev['fid']:.2f}" if ev.get("fid") is not None else "n/a (no Inception weights)"


def _face_rate(ev: dict) -> str:
    if ev.get("face_rate") is None:
        return "n/a (not faces)"
    return f"{ev['face_rate']:.3f} of {ev.get('face_samples', '?')} (real {ev['face_rate_real']:.3f})"


def _offline(ev: dict) -> str:
    """The offline distribution metrics of whichever feature space evaluate used, beside the real floor."""
    for space in SPACES:
        fd, precision, recall = metric_names(space)
        if ev.get(fd) is not None:
            return (
                f"{space}: {ev[fd]:.4g} / {ev[precision]:.2f} / {ev[recall]:.2f}"
                f" (real {ev[f'{fd}_real']:.4g} / {ev[f'{precision}_real']:.2f} / {ev[f'{recall}_real']:.2f})"
            )
    return "n/a (not measured by this run)"


def _by(metric: str) -> str:
    return metric if metric in (f"fd_{space}" for space in SPACES) else metric.replace("_", " ")


def row(model: str, train: dict, ev: dict) -> list[str]:
    cond = ev.get("class_accuracy_generated")
    return [
        model,
        str(train["steps"]),
        f"{train['train_seconds'] / 60:.1f} min on {train.get('device', 'unknown device')}",
        _fid(ev),
        _face_rate(ev),
        _offline(ev),
        "n/a" if cond is None else f"{cond:.3f}",
        f"step {ev['selected_step']} of {ev.get('last_step', train['steps'])}, by {_by(ev['selected_by'])}",
        ev["fid_protocol"],
    ]


HEADER = [
    "model", "steps", "train time", "FID", "face rate (MTCNN p >= 0.9)", "offline Fréchet distance / precision / recall (NOT FID)",
    "conditional accuracy", "snapshot used", "FID protocol",
]


def _stage(folder: Path, stage: str) -> dict:
    """A stage's metrics (<stage>.json, what `dvc exp show` compares) with its diagnostics (<stage>_info.json)."""
    return {**_read(folder / f"{stage}_info.json"), **_read(folder / f"{stage}.json")}


def table(metrics_dir: str | Path, models: list[str]) -> str:
    """A Markdown table, one row per model, from metrics/<model>/{train,evaluate}{,_info}.json."""
    metrics_dir = Path(metrics_dir)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for model in models:
        r = row(model, _stage(metrics_dir / model, "train"), _stage(metrics_dir / model, "evaluate"))
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines) + "\n"


def splice(readme: str, new_table: str) -> str:
    """README text with the part between the markers replaced by `new_table`."""
    if BEGIN not in readme or END not in readme:
        raise GanlabError(f"README has no results markers ({BEGIN} ... {END})")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{new_table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    from ganlab import params
    from ganlab.model_params import MODEL_PARAMS

    ap = argparse.ArgumentParser(prog="python -m ganlab.results", description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", default="metrics", help="the metrics folder (default: metrics)")
    ap.add_argument("--readme", default="README.md", help="the file holding the table (default: README.md)")
    ap.add_argument("--params", default="params.yaml", help="train.models gives the rows, in order")
    ap.add_argument("--check", action="store_true", help="exit 1 if the README's table is not what the metrics say")
    a = ap.parse_args(argv)
    try:
        models = params.load(a.params, MODEL_PARAMS)["train"].models
        readme = Path(a.readme).read_text()
        new = splice(readme, table(a.metrics, models))
    except (GanlabError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.check:
        if new != readme:
            print(f"error: the results table in {a.readme} differs from {a.metrics}/; run python -m ganlab.results", file=sys.stderr)
            return 1
        return 0
    Path(a.readme).write_text(new)
    print(f"results: {len(models)} rows written to {a.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
