"""The shape of the package: imports flow one way, and every stage's dvc.yaml deps cover the
code it runs and the files it opens."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def module_file(name: str) -> Path | None:
    """The file of ganlab module `name` (a package's __init__.py), None outside the package."""
    if name != "ganlab" and not name.startswith("ganlab."):
        return None
    base = SRC.joinpath(*name.split("."))
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return None


def module_name(path: Path) -> str:
    if SRC not in path.parents:  # a stage script
        return f"stages.{path.stem}"
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(path: Path) -> set[str]:
    """ganlab modules that `path` imports anywhere (late imports inside functions included,
    `if TYPE_CHECKING:` blocks not), plus the packages whose __init__ those imports run."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # `from ganlab import stage`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    out = set()
    for name in found:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            prefix = ".".join(parts[:i])
            if module_file(prefix) is not None:
                out.add(prefix)
    me = module_name(path)
    return {m for m in out if m != me and not me.startswith(m + ".") and m != "ganlab"}  # ganlab/__init__ imports nothing


def graph(files) -> dict[str, set[str]]:
    return {module_name(f): imported(f) for f in files}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each as the path that closes it."""
    found, state = [], {}

    def dfs(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            dfs(node, [node])
    return found


def test_no_import_cycle_inside_ganlab():
    edges = graph(SRC.rglob("*.py"))
    assert cycles(edges) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# The registries that import a model's package by its name (ganlab/models/<name>/), and the
# module of it each imports: a stage that reaches one runs that module of the model it is for.
BY_NAME = {"ganlab.models": "variant", "ganlab.model_params": "params"}


def closure(script: Path, model: str | None = None) -> set[Path]:
    """Every ganlab file a stage script runs: its imports, transitively, and for a stage of
    `model`, the modules of that model's package the registries import by name."""
    todo, seen = list(imported(script) | {"ganlab"}), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += imported(module_file(name))
        if name in BY_NAME and model is not None:
            todo.append(f"ganlab.models.{model}.{BY_NAME[name]}")
    return {module_file(name) for name in seen}


def model_names() -> list[str]:
    from ganlab.params import model_names

    return model_names()


# the option names through which a stage script reads files (the rest name what it writes)
INPUTS = {"raw", "crops", "data", "stats", "classifier", "model", "training"}


def stages(dvc_yaml: Path, models: list[str] | None = None) -> dict[str, dict]:
    """Each stage of dvc.yaml, a foreach expanded for every model there is (`models`: these
    only) as <stage>@<model>, each with the model it is for under "model"."""
    out = {}
    for name, stage in yaml.safe_load(dvc_yaml.read_text())["stages"].items():
        if "foreach" not in stage:
            out[name] = stage
            continue
        for model in models or model_names():
            out[f"{name}@{model}"] = {**yaml.safe_load(yaml.safe_dump(stage["do"]).replace("${item}", model)), "model": model}
    return out


def missing_deps(stage: dict) -> list[str]:
    """Files the stage's command runs or reads that its deps do not cover."""
    deps = [ROOT / d for d in stage.get("deps", [])]
    covered = lambda path: any(path == d or d in path.parents for d in deps)  # noqa: E731
    words = stage["cmd"].split()
    script = ROOT / next(w for w in words if w.startswith("stages/"))
    needed = {script} | closure(script, stage.get("model"))
    needed |= {ROOT / words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--") and w[2:] in INPUTS and "/" in words[i + 1]}
    return sorted(str(p.relative_to(ROOT)) for p in needed if not covered(p))


@pytest.mark.parametrize("name", sorted(stages(ROOT / "dvc.yaml")))
def test_stage_deps_cover_the_code_and_data_it_reads(name):
    assert missing_deps(stages(ROOT / "dvc.yaml")[name]) == []


def test_a_missing_dep_is_caught(tmp_path):
    """Take fid.py out of evaluate's deps: the check must name it (an edit to the Fréchet
    distance would otherwise leave the metrics stale with `dvc repro` saying all is up to date)."""
    stage = stages(ROOT / "dvc.yaml")["evaluate@dcgan"]
    stage["deps"] = [d for d in stage["deps"] if d not in ("src/ganlab/fid.py", "src/ganlab")]
    assert "src/ganlab/fid.py" in missing_deps(stage) or "src/ganlab" in stage["deps"]
    stage["deps"] = [d for d in stage["deps"] if d != "data/classifier"]
    assert "data/classifier" in missing_deps(stage)


def test_a_model_imported_by_name_is_a_dep_the_check_sees():
    """The registries import a model's package by its name, out of sight of the import
    statements: the check must still name the model's package when it is not a dep."""
    stage = stages(ROOT / "dvc.yaml", ["wgan_gp"])["train@wgan_gp"]
    stage["deps"] = [d for d in stage["deps"] if d != "src/ganlab/models/wgan_gp"]
    assert {"src/ganlab/models/wgan_gp/params.py", "src/ganlab/models/wgan_gp/variant.py"} <= set(missing_deps(stage))


DATA_STAGES = ("download", "crop", "prepare", "fid_weights", "real_stats", "classify")


@pytest.mark.parametrize("name", DATA_STAGES)
def test_no_data_stage_runs_or_depends_on_model_code_or_params(name):
    """Adding or editing a model must not re-crop the faces (or rerun any data stage)."""
    stage = stages(ROOT / "dvc.yaml")[name]
    script = ROOT / next(w for w in stage["cmd"].split() if w.startswith("stages/"))
    models = SRC / "ganlab/models"
    ran = [str(p.relative_to(SRC)) for p in closure(script) if models in p.parents or p.name == "model_params.py"]
    assert ran == []
    assert [d for d in stage["deps"] if d.startswith("src/ganlab/models") or d.endswith("model_params.py")] == []


def test_a_model_imports_no_other_models_package():
    """What two models share lives in shared modules (models/base.py, models/layers.py,
    models/stabilisers.py): a model's package importing another's would be a dep its stages do
    not list."""
    for name in model_names():
        for path in (SRC / "ganlab/models" / name).glob("*.py"):
            others = [m for m in imported(path) if m.startswith("ganlab.models.") and m.split(".")[2] not in (name, "base", "layers", "stabilisers")]
            assert others == [], path


def test_every_model_has_its_params_class_and_nothing_else():
    """The registry of variants and the light registry of their params name the same models."""
    from ganlab.model_params import MODEL_PARAMS
    from ganlab.models import REGISTRY

    assert list(REGISTRY) == list(MODEL_PARAMS) == model_names()
    assert {"dcgan", "cdcgan", "wgan", "wgan_gp", "progressive"} <= set(model_names())
    assert all(REGISTRY[name].Params is MODEL_PARAMS[name] for name in REGISTRY)


def test_params_validation_imports_no_model_code():
    """Every stage validates params; doing so for every model must not pull in torch or any
    network (the params modules only), and a data stage's load imports no model's params."""
    import subprocess

    code = ("import sys; from ganlab import params; params.load('params.yaml'); print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('ganlab.model')));"
            "from ganlab.model_params import MODEL_PARAMS; params.load('params.yaml', MODEL_PARAMS);"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.split('.')[-1] in ('variant', 'base', 'layers')))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(SRC)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[]", "[]"]


def test_no_function_over_80_lines():
    """Long functions hide what they do; a new metric or stage step is a function of its own."""
    long = []
    for path in sorted((ROOT / "src/ganlab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


# fid_weights runs at every `dvc repro` and `dvc exp run` (it is always_changed), hundreds of
# times in the test suite: it hashes a file, and torch's import alone costs 2-3 s here.
def test_the_fid_weights_stage_imports_no_torch():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('stage', {str(ROOT / 'stages/fid_weights.py')!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'pytorch_fid') if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"stages/fid_weights.py imports {r.stdout.strip()}"
