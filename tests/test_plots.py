"""`dvc plots show` draws with no network: .dvc/config points DVC at the project's page template,
which inlines Vega, Vega-Lite and vega-embed (ganlab.plots_page) instead of loading them from a CDN."""

import json
import re
import shutil
from pathlib import Path

import pytest
from dvc_render.html import PAGE_HTML
from dvc_render.vega import VegaRenderer

from dvcrepo import ROOT, dvc, make_repo
from ganlab import plots_page

ROWS = 5  # steps in each tiny CSV: a drawn line has this many vertices
COLUMNS = ("loss_d", "loss_g", "face_rate", "fd_onet")  # two a losses plot draws, two a curve plot draws


def write_tiny_plots(repo: Path) -> list[str]:
    """A CSV of ROWS steps for each declared plot; returns their paths."""
    paths = plots_page.declared_plots(repo)
    for path in paths:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        rows = [",".join([str(10 * (i + 1)), *(f"{(c + 1) / (i + 1)}" for c in range(len(COLUMNS)))]) for i in range(ROWS)]
        (repo / path).write_text("\n".join([",".join(["step", *COLUMNS]), *rows]) + "\n")
    return paths


@pytest.fixture(scope="module")
def plots(tmp_path_factory):
    """A tiny repo with the project's DVC config and template, its plots written; the page
    `dvc plots show` makes of them, DVC's default page of the same plots, and the plots' paths."""
    repo = make_repo(tmp_path_factory.mktemp("plots"), {})
    shutil.copy(ROOT / ".dvc/config", repo / ".dvc/config")
    shutil.copytree(ROOT / ".dvc/plots", repo / ".dvc/plots")  # the losses and curve templates dvc.yaml names
    template = plots_page.template_path(ROOT)
    (repo / template.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, repo / template.relative_to(ROOT))
    paths = write_tiny_plots(repo)
    dvc(repo, "plots", "show", "-o", "ours")
    (repo / "default.html").write_text(PAGE_HTML)  # DVC's own page, the one that loads from a CDN
    dvc(repo, "plots", "show", "-o", "default", "--html-template", "default.html")
    return repo / "ours/index.html", repo / "default/index.html", paths


def plot_id(path: str) -> str:
    return re.sub(r"\W", "_", path)  # dvc_render's div id for a plot file


def test_template_inlines_the_versions_dvc_loads_from_its_cdn():
    template = plots_page.template_path(ROOT).read_text(encoding="utf-8")
    assert plots_page.cdn_packages() == plots_page.PINNED, "dvc_render changed its libraries: update PACKAGES, remake"
    assert plots_page.inlined_packages(template) == plots_page.PINNED
    assert plots_page.PLOTS in template and plots_page.SCRIPTS not in template
    assert plots_page.network_refs(template) == []


def test_network_refs_finds_dvc_cdn_scripts():
    assert len(plots_page.network_refs(VegaRenderer.SCRIPTS)) == 3
    assert plots_page.network_refs('<link href="//x.org/a.css"><img src=https://x.org/a.png>') == [
        "//x.org/a.css", "https://x.org/a.png"]


def test_plots_show_writes_a_page_with_no_network_resource(plots):
    ours, default, paths = plots
    html = ours.read_text(encoding="utf-8")
    assert plots_page.network_refs(html) == []
    assert re.findall(r"<script[^>]*\bsrc\s*=", html) == []
    assert len(plots_page.network_refs(default.read_text(encoding="utf-8"))) == 3  # what the template avoids
    # the three libraries, verbatim from the template
    head = plots_page.template_path(ROOT).read_text(encoding="utf-8").split(plots_page.PLOTS)[0]
    assert head.replace(plots_page.REFRESH, "") in html
    assert set(plots_page.inlined_packages(html)) == {"vega", "vega-lite", "vega-embed"}
    # DVC's specs are for the Vega-Lite major version inlined
    majors = set(re.findall(r"schema/vega-lite/v(\d+)\.json", html))
    assert majors == {plots_page.inlined_packages(html)["vega-lite"].split(".")[0]}
    for path in paths:
        assert f'<div id = "{plot_id(path)}">' in html


def lines_drawn(dom: str, path: str) -> list[int]:
    """Vertices of each line mark Vega drew (as SVG) in the div of plot `path`."""
    start = dom.index(f'<div id="{plot_id(path)}"')
    end = dom.find('<div id="', start + 1)
    div = dom[start:end if end > 0 else None]
    return [d.count("L") + 1 for d in re.findall(r'aria-roledescription="line mark" d="(M[^"]*)"', div)]


def chromium_dom(page: Path) -> str:
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium): the page is not drawn")
    return plots_page.chromium(page.as_uri(), "--dump-dom")


def test_page_draws_every_plot_offline_in_chromium(plots):
    """Each plot draws one line per column its template shows (a panel each), not only the last."""
    ours, _, paths = plots
    dom = chromium_dom(ours)
    for path in paths:
        assert lines_drawn(dom, path) == [ROWS, ROWS], f"{path}: not two lines of {ROWS} points"


def folded(template: str) -> list[str]:
    """The columns a plot template of .dvc/plots draws, a panel each."""
    spec = json.loads((ROOT / ".dvc/plots" / f"{template}.json").read_text())
    return spec["transform"][0]["fold"]


def test_curve_template_draws_every_metric_evaluate_scores():
    from ganlab.evaluate import columns
    from ganlab.features import SPACES

    assert folded("curve") == list(dict.fromkeys(c for space in SPACES for c in columns(space)))


@pytest.mark.parametrize("model", ["dcgan", "wgan_gp", "progressive"])
def test_losses_template_draws_every_loss_the_default_models_log(model):
    header = (ROOT / f"metrics/{model}/losses.csv").read_text().splitlines()[0].split(",")
    schedule = {"step", "resolution", "alpha"}  # the x axis; progressive growing's schedule, not a loss
    assert set(header) - schedule <= set(folded("losses")), f"{model} logs a column the losses plot leaves out"


def test_dvc_default_page_draws_nothing_offline(plots):
    """The blank page the template fixes: DVC's own page, offline, draws no line."""
    _, default, paths = plots
    dom = chromium_dom(default)
    assert all(lines_drawn(dom, path) == [] for path in paths)


def test_the_docs_screenshot_is_of_the_committed_metrics():
    """docs/plots.md shows docs/img/plots.png: it must picture the plot files as committed, not
    an earlier run's (python -m ganlab.plots_page --screenshot docs/img/plots.png redraws both)."""
    recorded = json.loads((ROOT / "docs/img/plots.json").read_text())["drawn_from"]
    assert recorded == plots_page.drawn_from(ROOT), "docs/img/plots.png is of other metrics: redraw it"
