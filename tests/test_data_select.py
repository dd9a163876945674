"""Selection: attribute expressions, categories, partition and cap, and their params validation."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from ganlab import params
from ganlab.model_params import MODEL_PARAMS
from ganlab.data.select import MAX_DEPTH, evaluate
from ganlab.params import Category, ParamsError, PrepareParams
from ganlab.prepare import output_size, select

NAMES = ["Attractive", "Male", "Smiling"]
ROWS = np.array([[1, -1, 1], [1, 1, -1], [-1, -1, -1], [1, -1, -1]], dtype=np.int8)
ROOT = Path(__file__).resolve().parents[1]


def load_params(path):
    return params.load(path, MODEL_PARAMS)


@pytest.mark.parametrize(
    "text, mask",
    [
        ("Attractive", [1, 1, 0, 1]),
        ("not Male", [1, 0, 1, 1]),
        ("Attractive and not Male or Smiling", [1, 0, 0, 1]),  # and binds tighter than or
        ("Attractive and (Male or Smiling)", [1, 1, 0, 0]),
        ("not not Smiling", [1, 0, 0, 0]),
    ],
)
def test_expressions(text, mask):
    assert evaluate(text, ROWS, NAMES, "t").tolist() == [bool(m) for m in mask]


@pytest.mark.parametrize(
    "text, message",
    [
        ("Attractive and", "ends too early"),
        ("(Male", "missing"),
        ("Male Smiling", "unexpected 'Smiling'"),
        ("Male & Smiling", "unexpected '&'"),
        ("", "empty"),
    ],
)
def test_syntax_errors_fail_at_params_load(text, message):
    with pytest.raises(ParamsError, match=message):
        PrepareParams(where=text)


@pytest.mark.parametrize("text", ["(" * 5000 + "Smiling" + ")" * 5000, "not " * 5000 + "Smiling", "(not " * 2000 + "Male" + ")" * 2000])
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"prepare": {"where": text}}, width=1 << 20))
    with pytest.raises(ParamsError) as e:
        load_params(path)
    assert str(e.value) == f"prepare.where: expression nests brackets and 'not's deeper than {MAX_DEPTH} levels"


def test_nesting_up_to_the_limit_parses_and_evaluates():
    deep = "(" * (MAX_DEPTH - 1) + "not Smiling" + ")" * (MAX_DEPTH - 1)
    assert evaluate(deep, ROWS, NAMES, "t").tolist() == [False, True, True, True]


def test_unknown_attribute_is_named_with_a_suggestion():
    with pytest.raises(ParamsError, match="unknown attribute 'Smilling'; did you mean 'Smiling'"):
        evaluate("Smilling", ROWS, NAMES, "prepare.where")


def test_categories_first_match_wins_unmatched_dropped_and_cap():
    p = PrepareParams(categories=[Category("smiling", "Smiling"), Category("attractive", "Attractive")], max_images=2)
    ids = ["a", "b", "c", "d"]
    attrs = dict(zip(ids, ROWS.tolist()))
    index, labels = select(ids, NAMES, attrs, {}, p)
    assert index == [0, 1] and labels.tolist() == [0, 1]  # 'a' is both: the first category; 'c' none
    index, labels = select(ids, NAMES, attrs, {"a": 0, "b": 2, "c": 0, "d": 0}, PrepareParams(partition="train", where="Attractive"))
    assert index == [0, 3] and labels is None


def test_partition_needs_partition_file():
    from ganlab.errors import GanlabError

    with pytest.raises(GanlabError, match="partition.csv"):
        select(["a"], NAMES, {}, {}, PrepareParams(partition="test"))


def test_razzaq_preset_and_params(tmp_path):
    preset = yaml.safe_load((ROOT / "presets/razzaq-celeba-categories.yaml").read_text())
    repo = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in preset.items():
        repo[section].update(values)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(repo))
    p = load_params(tmp_path / "params.yaml")
    assert [c.name for c in p["prepare"].categories] == ["attractive_female", "attractive_male", "female_high_cheekbones", "female_big_lips"]
    assert p["prepare"].resolution == 80 and p["data"].source == "celeba"
    assert load_params(ROOT / "params.yaml")["prepare"].categories == []  # the default filters nothing


def test_output_sizes():
    assert output_size(PrepareParams(resolution=80)) == (80, 80)
    assert output_size(PrepareParams(resolution=256, aspect="218:178")) == (209, 256)
    with pytest.raises(ParamsError, match="prepare.resolution"):
        PrepareParams(resolution=48)
    with pytest.raises(ParamsError, match="data.path"):
        params.DataParams(source="folder")
