"""The config key: a digest of the params without their seed keys, equal for every run of one
seed sweep. MLflow runs are tagged with it (ganlab.tracking) and `ganlab results` groups
experiments by it (ganlab.sweep).

Its own module because every training imports it: the stages that log to MLflow depend on this
file, not on the results code, so a change to how results are summarised retrains nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ganlab.errors import GanlabError


def is_seed_key(key: str) -> bool:
    """'train.seed', 'evaluate.report_seed': keys that only pick random draws."""
    last = key.rsplit(".", 1)[-1]
    return last == "seed" or last.endswith("_seed")


def flatten(data: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay values."""
    out: dict = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def config_key(params: dict) -> str:
    """A digest of the params (nested, as in params.yaml) without their seed keys: equal for the
    runs of one seed sweep, different for any other change."""
    flat = {k: v for k, v in flatten(params).items() if not is_seed_key(k)}
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:12]


def params_config_key(path: str | Path = "params.yaml") -> str | None:
    """config_key of a params file; None when it cannot be read (tracking must not fail on it)."""
    from ganlab.params import read_yaml  # YAML 1.2, as DVC reads and writes it

    try:
        return config_key(read_yaml(path) or {})
    except (OSError, GanlabError):
        return None
