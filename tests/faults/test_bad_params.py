"""Mutated params: every key of every section, given a wrong type and an out-of-range value,
fails params.load with one line naming the section and key, and a stage says it in one line.

The keys are walked from the params classes (their type hints), not from a hand-kept list, so a
key added later is mutated too; the test checks that this walk covers every key of params.yaml.
"""

from __future__ import annotations

import dataclasses
import io
import math
import subprocess
import sys
import types
import typing
from typing import Any, Literal

import pytest
from ruamel.yaml import YAML

from ganlab import params
from ganlab.errors import ParamsError
from ganlab.model_params import MODEL_PARAMS
from dvcrepo import BIN, ROOT, env, make_repo

SECTIONS = {**params.SECTIONS, **MODEL_PARAMS}
CATEGORY = {"name": "smiling", "where": "Smiling"}  # a valid entry of prepare.categories, one field of it mutated at a time
# Strings have a range only where their meaning gives one: values that must parse as attribute
# expressions, and model names. Paths and names have none.
BAD_STRINGS = {
    "prepare.where": "Smiling and",
    "prepare.categories.where": "(Smiling",
    "render.arithmetic": "not",
    "render.directions": "Male or",
    "train.models": "stylegan9",
}


def unwrap(hint: Any) -> Any:
    """`X | None` -> X."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def keys(cls: type, path: tuple):
    """(path, type hint, a valid value) of every key of dataclass `cls`, nested ones included."""
    hints = typing.get_type_hints(cls)
    defaults = cls() if cls is not params.Category else params.Category(**CATEGORY)
    for f in dataclasses.fields(cls):
        hint = unwrap(hints[f.name])
        yield (*path, f.name), hint, getattr(defaults, f.name)
        if dataclasses.is_dataclass(hint):  # a nested section (a model's guard): its keys too
            yield from keys(hint, (*path, f.name))
            continue
        item = typing.get_args(hint)[0] if typing.get_origin(hint) is list else None
        if item is params.Category:  # a list of mappings: the fields of its first entry too
            for p, h, v in keys(item, ()):
                yield (*path, f.name, 0, *p), h, v


def wrong_types(hint: Any, valid: Any) -> list:
    if dataclasses.is_dataclass(hint):
        return ["not a mapping"]
    if typing.get_origin(hint) is Literal:
        return [7]
    if typing.get_origin(hint) is list:
        return ["not a list", [*valid[:-1], wrong_types(typing.get_args(hint)[0], None)[0]] if valid else [7]]
    return {int: ["many", 1.5, True], float: ["fast", [1.0]], str: [7], bool: ["yes", 1]}[hint]


def out_of_range(hint: Any, valid: Any, name: str) -> list:
    if name in BAD_STRINGS:
        bad = BAD_STRINGS[name]
        return [[*valid[:-1], bad] if valid else [bad]] if typing.get_origin(hint) is list else [bad]
    if typing.get_origin(hint) is Literal:
        return ["bogus"]
    if typing.get_origin(hint) is list:
        item = typing.get_args(hint)[0]
        return [[*valid[:-1], bad] for bad in out_of_range(item, None, "")] if valid else []
    return {int: [-1], float: [-1.0, math.nan, math.inf]}.get(hint, [])  # bool, str, a nested section: none


def named(path: tuple) -> str:
    """section.key; prepare.categories.where for a field of a category."""
    return ".".join(str(k) for k in path if not isinstance(k, int))


def says(message: str, path: tuple) -> bool:
    """Whether a one-line message names the key at `path` (a category's field: the list and the field)."""
    parts = (named(path[:2]), path[3]) if len(path) == 4 else (named(path),)
    return "\n" not in message and all(p in message for p in parts)


def mutations():
    """(path into params.yaml, bad value, what kind of fault) of every key."""
    for section, cls in SECTIONS.items():
        yield (section,), "not a mapping", "type"
        for path, hint, valid in keys(cls, (section,)):
            for value in wrong_types(hint, valid):
                yield path, value, "type"
            for value in out_of_range(hint, valid, named(path)):
                yield path, value, "range"


def mutated(base: dict, path: tuple, value: Any) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    if len(path) == 1:
        out[path[0]] = value
        return out
    section = out.setdefault(path[0], {}) or {}
    out[path[0]] = section
    if len(path) == 4:  # prepare.categories: one valid category, one of its fields mutated
        section["categories"] = [{**CATEGORY, path[3]: value}]
    elif len(path) == 3:  # a nested section (a model's guard)
        section[path[1]] = {path[2]: value}
    else:
        section[path[1]] = value
    return out


def dump(data: dict) -> str:
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, buf)
    return buf.getvalue()


def test_the_walk_covers_every_key_of_params_yaml():
    walked = {named(p) for p, _, _ in mutations()}
    in_file = {f"{s}.{k}" for s, keys_ in params.read_yaml(ROOT / "params.yaml").items() for k in keys_}
    assert in_file <= walked, in_file - walked
    assert {"dcgan.guard.keep_d", "prepare.categories.where", "progressive.batch_sizes", "cdcgan.embed_dim"} <= walked


def test_every_mutated_key_fails_in_one_line_naming_it(tmp_path, record_fault):
    base = params.read_yaml(ROOT / "params.yaml")
    path = tmp_path / "params.yaml"
    tried, named_in_one_line, failures = 0, 0, []
    for key, value, kind in mutations():
        tried += 1
        path.write_text(dump(mutated(base, key, value)))
        try:
            params.load(path, MODEL_PARAMS)  # every model's section too (a data stage checks none)
        except ParamsError as e:
            if says(str(e), key):
                named_in_one_line += 1
            else:
                failures.append(f"{named(key)} = {value!r} ({kind}): {str(e)!r}")
            continue
        except Exception as e:  # noqa: BLE001 - anything but a ParamsError is the fault this test looks for
            failures.append(f"{named(key)} = {value!r} ({kind}): {type(e).__name__}: {e}")
            continue
        failures.append(f"{named(key)} = {value!r} ({kind}): accepted")
    record_fault("mutated params (wrong type, out of range)", tried, named_in_one_line)
    assert not failures, "\n".join(failures)
    assert tried > 250  # every key, both kinds of fault


@pytest.mark.parametrize(
    "section, values, named",
    [
        ("dcgan", {"steps": 0}, "dcgan.steps must be > 0, got 0"),
        ("cdcgan", {"embed_dim": -1}, "cdcgan.embed_dim must be > 0, got -1"),
        ("wgan_gp", {"beta1": 1.0}, "wgan_gp.beta1 must be in [0, 1), got 1.0"),
        ("progressive", {"guard": {"keep_g": [2.0, 1.0]}}, "progressive.guard.keep_g must be [low, high]"),
    ],
)
def test_model_messages_name_their_section(tmp_path, section, values, named):
    path = tmp_path / "params.yaml"
    path.write_text(dump({section: values}))
    with pytest.raises(ParamsError) as e:
        params.load(path, MODEL_PARAMS)  # every model's section too (a data stage checks none)
    assert str(e.value).startswith(named)


def stage_error(repo, *args: str) -> list[str]:
    r = subprocess.run([sys.executable, *args], cwd=repo, env=env(PYTHONPATH=str(repo / "src")), capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    return r.stderr.strip().splitlines()


def test_a_stage_says_a_bad_model_key_in_one_line(tmp_path):
    """The model's train stage validates its section before it reads the data. (A data stage
    does not: it imports no model's params, so adding or editing a model reruns none of them.)"""
    bad = tmp_path / "params.yaml"
    bad.write_text(dump({"dcgan": {"steps": 0}}))
    lines = stage_error(ROOT, "stages/train.py", "--params", str(bad), "--model", "dcgan", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "model"),
                        "--metrics", str(tmp_path / "m.json"), "--info", str(tmp_path / "i.json"), "--history", str(tmp_path / "h.csv"))
    assert lines == ["error: dcgan.steps must be > 0, got 0"]
    assert not (tmp_path / "model").exists()


def test_dvc_repro_stops_before_training_on_a_resolution_the_model_does_not_take(tmp_path):
    """wgan cannot train at 16 px: its train stage fails with one line before it reads the data.
    The data stages before it have run (they know no model's params): `ganlab.presets` checks
    every model before a preset's stages run."""
    repo = make_repo(tmp_path / "repo", {"data": {"count": 4}, "crop": {"mode": "center"}, "prepare": {"resolution": 16}, "train": {"models": ["wgan"]}, "wgan": {"steps": 2}})
    r = subprocess.run([str(BIN / "dvc"), "repro", "train@wgan"], cwd=repo, env=env(), capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "error: prepare.resolution 16 cannot be trained by wgan, which takes 32, 64, 128, 256 px" in out, out
    assert "Traceback" not in out
    assert (repo / "data/prepared/faces.npz").exists() and not (repo / "data/models/wgan").exists()
