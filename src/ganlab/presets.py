"""Presets: params.yaml overlays that reproduce a report, run as named DVC experiments.

A preset is a YAML file under presets/ holding the sections (and keys) it changes; every other
key keeps its params.yaml value, except in a model's section: params.yaml tunes the default
models for a short CPU run (stabilisers, learning rates, critic steps), and a report's recipe
must not inherit that, so a model section the preset names starts from its params class's
defaults (the papers' and reports' values, `ganlab.model_params`) and takes the preset's keys.
A preset that adds something to a report's recipe (a stabiliser, say) names the report's preset
in `extends:` and holds only what it adds, so the recipe is written once.
`python -m ganlab.presets NAME` merges it into params.yaml and runs `dvc exp run -n NAME`, the
same as `dvc exp run -S key=value ...` would, but with values (lists of categories, nested
guards) that do not survive a shell command line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

from ganlab import params
from ganlab.model_params import MODEL_PARAMS
from ganlab.errors import GanlabError


def preset_path(name: str, root: Path) -> Path:
    path = root / "presets" / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (root / "presets").glob("*.yaml"))
        raise GanlabError(f"no preset '{name}' (known: {', '.join(known)})")
    return path


def read_preset(name: str, root: Path, seen: tuple[str, ...] = ()) -> dict:
    """The preset's sections, with those of the preset it `extends` (recursively) beneath them."""
    if name in seen:
        raise GanlabError(f"preset '{name}' extends itself: {' -> '.join((*seen, name))}")
    preset = params.read_yaml(preset_path(name, root)) or {}
    base = preset.pop("extends", None)
    if base is None:
        return preset
    if not isinstance(base, str):
        raise GanlabError(f"presets/{name}.yaml: extends must be a preset's name, got {base!r}")
    return merge(read_preset(base, root, (*seen, name)), preset)


def merge(base: dict, overlay: dict) -> dict:
    """Section-wise overlay: a preset's keys replace the base's, nested mappings merged."""
    out = dict(base)
    for key, value in overlay.items():
        out[key] = merge(base.get(key) or {}, value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def apply(name: str, root: Path, overrides: dict | None = None) -> dict:
    """Write params.yaml with preset `name` (and then `overrides`) merged in; validate it first."""
    preset = read_preset(name, root)
    base = params.read_yaml(root / "params.yaml")
    for model in set(preset) & set(MODEL_PARAMS):
        base[model] = params.to_dict(MODEL_PARAMS[model]())
    merged = merge(base, preset)
    if overrides:
        merged = merge(merged, overrides)
    tmp = root / ".params.preset.yaml"
    tmp.write_text(yaml.safe_dump(merged, sort_keys=False))
    try:
        params.load(tmp, MODEL_PARAMS)  # a preset with a typo fails here, before params.yaml changes
        tmp.replace(root / "params.yaml")
    finally:
        tmp.unlink(missing_ok=True)
    return merged


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run a report's preset as a named DVC experiment.")
    ap.add_argument("name", help="a file name under presets/, without .yaml")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="a further override (YAML value)")
    ap.add_argument("--no-run", action="store_true", help="only merge the preset into params.yaml")
    a = ap.parse_args(argv)
    overrides: dict = {}
    for item in a.set:
        key, _, value = item.partition("=")
        node = overrides
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = params.parse_yaml(value)  # as DVC's -S would read it
    root = Path.cwd()
    try:
        apply(a.name, root, overrides)
    except GanlabError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if not a.no_run:
        sys.exit(subprocess.call(["dvc", "exp", "run", "-n", a.name]))


if __name__ == "__main__":
    main()
