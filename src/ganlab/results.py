"""The README's results table, generated from the default run's seed sweep.

The sweep (`dvc exp run --queue -S 'train.seed=range(0,3)'`, `dvc queue start -j 2`) is saved
with `ganlab results --save metrics/sweep.json`, since DVC's experiments do not travel with a
clone. `python -m ganlab.results` rewrites the table between the markers in README.md from that
file; `--check` fails when the README's table differs from it (the test suite runs it); when
params.yaml has changed since the sweep, the table says that no sweep of the current
configuration exists, so a number in the README is always one the current configuration's runs
wrote.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganlab import sweep
from ganlab.errors import GanlabError

BEGIN = "<!-- results:begin (python -m ganlab.results) -->"
END = "<!-- results:end -->"
SWEEP = "metrics/sweep.json"  # the default run's seed sweep, saved by `ganlab results --save`
# what the table says when the saved sweep holds no runs of params.yaml's configuration
NO_SWEEP = (
    "No seed sweep of the current configuration (config {config}; the saved sweep holds: {have}) has been saved yet, so this"
    " README shows no results. Run it (slow on a CPU: a seed of the defaults costs about 40 min of one core of a 2-core AMD EPYC,"
    " and two run at once, one thread each; docs/experiments.md):\n\n"
    "```sh\n.venv/bin/dvc exp run --queue -S 'train.seed=range(0,3)'\nOMP_NUM_THREADS=1 .venv/bin/dvc queue start -j 2\n"
    ".venv/bin/ganlab results --save metrics/sweep.json\n.venv/bin/python -m ganlab.results\n```\n"
)
FLOOR = (("face_rate_real", "face rate", 3), ("fd_onet_real", "Fréchet distance", 3), ("precision_onet_real", "precision", 2), ("recall_onet_real", "recall", 2))


def _floor(g: sweep.Group, model: str) -> str:
    """The real-vs-real floor of the offline metrics, as evaluate measured it (the same in every run)."""
    ev = g.runs[0].metrics[model].get("evaluate", {})
    parts = [f"{label} {ev[key]:.{digits}f}" for key, label, digits in FLOOR if ev.get(key) is not None]
    return ", ".join(parts) or "n/a"


def table(runs: list[sweep.Run], params: dict, models: list[str]) -> str:
    """The README's table: the sweep's group of params.yaml's configuration (all but the seeds and
    the render section, sweep.AFTER_THE_NUMBERS), one row per model, median [min–max] over its
    runs, then how the runs were made."""
    config = sweep.sweep_key(params)
    found = [g for g in sweep.group(runs) if g.config == config]
    if not found:  # no numbers are better than numbers of another configuration
        return NO_SWEEP.format(config=config, have=", ".join(g.config for g in sweep.group(runs)) or "none")
    g = found[0]
    missing = [m for m in models if m not in g.models]
    if missing:
        raise GanlabError(f"the saved sweep has no metrics of {', '.join(missing)}")
    seeds = sorted(r.params.get("train.seed") for r in g.runs)
    made = "\n".join(f"- {m}: {sweep.made_with(g)[m]}" for m in models)
    floors = "\n".join(f"- {m}: {_floor(g, m)}" for m in models)
    return (
        f"{sweep.markdown(g, models)}\n"
        f"Config {config} (params.yaml less its seed keys and render section), train.seed {', '.join(map(str, seeds))}; each cell is the median [min–max] over"
        f" the runs, on the report set (fresh latents; real images not used to pick the snapshot). Runs made with:\n{made}\n\n"
        f"Real floor (one real half against the other; the real face rate):\n{floors}\n"
    )


def replace_block(readme: str, begin: str, end: str, block: str) -> str:
    """README text with its part from `begin` to `end` (markers included) replaced by `block`:
    the generated parts of the README (this table, ganlab.pictures)."""
    if begin not in readme or end not in readme:
        raise GanlabError(f"README has no markers {begin} ... {end}")
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{block}{tail}"


def splice(readme: str, new_table: str) -> str:
    """README text with the part between the results markers replaced by `new_table`."""
    return replace_block(readme, BEGIN, END, f"{BEGIN}\n{new_table}{END}")


def main(argv: list[str] | None = None) -> int:
    from ganlab import params
    from ganlab.model_params import MODEL_PARAMS

    ap = argparse.ArgumentParser(prog="python -m ganlab.results", description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default=SWEEP, help=f"the saved seed sweep (default: {SWEEP})")
    ap.add_argument("--readme", default="README.md", help="the file holding the table (default: README.md)")
    ap.add_argument("--params", default="params.yaml", help="the configuration whose runs make the table; train.models gives the rows")
    ap.add_argument("--check", action="store_true", help="exit 1 if the README's table is not what the sweep says")
    a = ap.parse_args(argv)
    try:
        models = params.load(a.params, MODEL_PARAMS)["train"].models
        raw = params.read_yaml(a.params)
        readme = Path(a.readme).read_text()
        runs = sweep.load(a.sweep) if Path(a.sweep).exists() else []
        body = table(runs, raw, models)
        new = splice(readme, body)
    except (GanlabError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.check:
        if new != readme:
            print(f"error: the results table in {a.readme} differs from {a.sweep}; run python -m ganlab.results", file=sys.stderr)
            return 1
        return 0
    Path(a.readme).write_text(new)
    what = "no table (the sweep holds no runs of this configuration)" if body.startswith(NO_SWEEP.partition("{")[0]) else f"{len(models)} rows"
    print(f"results: {what} written to {a.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
