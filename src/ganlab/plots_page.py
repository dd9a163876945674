"""The HTML page `dvc plots show` fills, with Vega, Vega-Lite and vega-embed inlined so it draws
with no network.

DVC's own page loads the three libraries from a CDN: offline, or behind a firewall, it stays blank.
`.dvc/config`'s `plots.html_template` names the template made here; `python -m ganlab.plots_page`
remakes it from the npm packages pinned below (fetched with `npm pack`, digests checked);
`python -m ganlab.plots_page --screenshot docs/img/plots.png` remakes the picture in docs/plots.md.
"""

import argparse
import base64
import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from dvc_render.html import HTML
from dvc_render.vega import VegaRenderer

# name: (version, the browser bundle inside the npm tarball, the tarball's npm integrity).
# The versions are those DVC's own page loads (VegaRenderer.SCRIPTS): the Vega-Lite specs DVC
# writes (`$schema` .../vega-lite/v5.json) are made for them. tests/test_plots.py checks they agree.
PACKAGES = {
    "vega": (
        "5.20.2",
        "package/build/vega.min.js",
        "sha512-qmH7aD9GGPpssVdxL1xgcdxTbQzyRUeRR16Os385ymvQhiwCYQNA6+eXUPAZDTVLfk0RXu6Jzj6kUE5jQ80EVw==",
    ),
    "vega-lite": (
        "5.2.0",
        "package/build/vega-lite.min.js",
        "sha512-Yxcg8MvYfxHcG6BbkaKT0oVCIMIcE19UvqIsEwBmyd/7h2nzW7oRnID81T8UrY7hpDrIr6wa2JADOT2dhGNErw==",
    ),
    "vega-embed": (
        "6.18.2",
        "package/build/vega-embed.min.js",
        "sha512-wcDyQPE4J5aiCDc3/suH5RQDvrKkjuLkhzUcbOLwEkNF8/+pp17tS0JghzEvAPNRg+5aG1/N2ydixq8Lk3dOlg==",
    ),
}
PINNED = {name: version for name, (version, _, _) in PACKAGES.items()}

# DVC replaces these three names in braces (dvc_render.html.HTML.embed). The template has no
# scripts placeholder: DVC would put its CDN <script> tags there.
PLOTS = "{" + HTML.PLOTS_PLACEHOLDER + "}"
REFRESH = "{" + HTML.REFRESH_PLACEHOLDER + "}"
SCRIPTS = "{" + HTML.SCRIPTS_PLACEHOLDER + "}"
DVC_PLACEHOLDERS = [PLOTS, REFRESH, SCRIPTS]

# DVC's page calls vegaEmbed(id, spec) with no options. The wrapper draws SVG instead of the
# default canvas: each mark is then an element (headless Chromium's DOM shows them, which is how
# the test finds drawn marks), and lines and text stay sharp when zoomed.
SVG_BY_DEFAULT = """
    <script>
        (function (embed) {
            window.vegaEmbed = Object.assign(
                function (el, spec, opt) { return embed(el, spec, Object.assign({renderer: "svg"}, opt)); },
                embed);
        })(window.vegaEmbed);
    </script>"""

PAGE = """<!DOCTYPE html>
<html>
<head>
    @REFRESH@
    <meta charset="utf-8">
    <title>ganlab plots</title>
    <!-- Made by `python -m ganlab.plots_page` from the npm packages @PACKAGES@, inlined so that the
         page draws with no network (DVC's own page loads them from a CDN). -->
@SCRIPTS@
    <style>
        body { display: flex; flex-wrap: wrap; gap: 8px; font-family: sans-serif; }
    </style>
</head>
<body>
    @PLOTS@
</body>
</html>
"""

PACKAGE_ATTR = re.compile(r'<script data-package="([\w-]+)@([\w.-]+)">')


def cdn_packages(scripts: str = VegaRenderer.SCRIPTS) -> dict[str, str]:
    """name: version of each library DVC's own page loads from its CDN."""
    return dict(re.findall(r"/npm/([\w-]+)@([\w.-]+)", scripts))


def inlined_packages(page: str) -> dict[str, str]:
    """name: version of each library inlined in a page made from the template."""
    return dict(PACKAGE_ATTR.findall(page))


def network_refs(page: str) -> list[str]:
    """The src= and href= attributes of a page that point off the machine (http:, https:, //)."""
    return re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]*)""", page, re.IGNORECASE)


def template_path(root: Path) -> Path:
    """The template `plots.html_template` names in root's DVC config, resolved as `dvc plots show`
    resolves it (relative to .dvc/)."""
    from dvc.config import Config

    dvc_dir = root / ".dvc"
    return Path(os.path.normpath(dvc_dir / Config(dvc_dir=dvc_dir)["plots"]["html_template"]))


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(name: str, workdir: Path) -> str:
    """The browser bundle of pinned package `name`, from its npm tarball, refused if the tarball's
    digest is not the pinned one."""
    version, member, integrity = PACKAGES[name]
    r = subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(workdir)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"npm pack {name}@{version} failed:\n{r.stderr}")
    tarball = workdir / f"{name}-{version}.tgz"
    got = _integrity(tarball.read_bytes())
    if got != integrity:
        raise RuntimeError(f"{tarball.name}: integrity {got}, pinned {integrity}")
    with tarfile.open(tarball) as tar:
        js = tar.extractfile(member).read().decode("utf-8")
    # the source map is not shipped: a browser's developer tools would look for it in vain
    return re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)


def page(bundles: dict[str, str]) -> str:
    """The template with each bundle (name: JavaScript) inlined in its own <script>."""
    scripts = []
    for name, js in bundles.items():
        # an inlined script ends at the first "</script"; a DVC placeholder inside would be replaced
        for bad in ["</script", *DVC_PLACEHOLDERS]:
            if bad in js:
                raise ValueError(f"{name}'s bundle contains {bad!r}: it cannot be inlined as is")
        scripts.append(f'    <script data-package="{name}@{PINNED[name]}">{js}</script>')
    packages = ", ".join(f"{name}@{PINNED[name]}" for name in bundles)
    return (PAGE.replace("@SCRIPTS@", "\n".join(scripts) + SVG_BY_DEFAULT).replace("@PACKAGES@", packages)
            .replace("@REFRESH@", REFRESH).replace("@PLOTS@", PLOTS))


def chromium(url: str, *args: str) -> str:
    """Headless Chromium's stdout for `url` with `args` (--dump-dom, --screenshot=...), given no
    network (every host name fails to resolve, a CDN's too); scripts get 10 s of virtual time
    to draw."""
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--virtual-time-budget=10000", *args, url],
            capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"chromium failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return r.stdout


def declared_plots(root: Path) -> list[str]:
    """Every plot file root's dvc.yaml declares, its foreach stages expanded over params.yaml's models."""
    import yaml

    models = yaml.safe_load((root / "params.yaml").read_text())["train"]["models"]
    out = []
    for stage in yaml.safe_load((root / "dvc.yaml").read_text())["stages"].values():
        for model in models if "foreach" in stage else [None]:
            for plot in stage.get("do", stage).get("plots", []):
                path = plot if isinstance(plot, str) else next(iter(plot))
                out.append(path.replace("${item}", model) if model else path)
    return out


def drawn_from(root: Path) -> dict[str, str]:
    """Plot file -> MD5 of its bytes in root: what a screenshot was drawn from, recorded beside
    it (<png>.json) so a test can tell a picture of other metrics than the committed ones."""
    return {path: hashlib.md5((root / path).read_bytes()).hexdigest() for path in declared_plots(root)}


def screenshot(root: Path, png: Path) -> None:
    """A picture of `dvc plots show` on root's workspace, drawn with no network, and <png>.json
    naming the files it was drawn from (drawn_from)."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["dvc", "plots", "show", "-o", tmp], cwd=root, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"dvc plots show failed:\n{r.stdout}{r.stderr}")
        # three plots a row: the six of the default run (two per model) fit in two rows
        chromium((Path(tmp) / "index.html").resolve().as_uri(), f"--screenshot={png.resolve()}",
                 "--window-size=1460,1100")
    png.with_suffix(".json").write_text(json.dumps({"drawn_from": drawn_from(root)}, indent=1) + "\n")


def make_template(root: Path) -> None:
    """Write the template root's DVC config names, from the pinned npm packages."""
    if cdn_packages() != PINNED:
        sys.exit(f"DVC's page now loads {cdn_packages()}, the pins are {PINNED}: update PACKAGES")
    out = template_path(root)
    with tempfile.TemporaryDirectory() as tmp:
        html = page({name: fetch(name, Path(tmp)) for name in PACKAGES})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="instead, save a picture of `dvc plots show` on this workspace, drawn offline")
    args = parser.parse_args(argv)
    if args.screenshot:
        screenshot(Path("."), args.screenshot)
    else:
        make_template(Path("."))


if __name__ == "__main__":
    main()
