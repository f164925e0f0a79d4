"""Install visdom's browser libraries from npm, so that ``python -m visdom.server`` works offline.

On its first start visdom's server runs ``visdom/server/build.py``, which downloads about thirty
JavaScript, CSS and font files from CDNs into ``visdom/static/`` and then writes
``static/version.built``. Without internet that step crashes the server (a missing MathJax file
is fatal). Every one of those files is in an npm package, and the npm registry is reachable, so
this module takes them from there instead:

- each package is fetched with ``npm pack NAME@VERSION`` and its tarball checked against the
  sha512 the registry published for it (pinned below);
- the files build.py asks for are copied to the names build.py looks for, plus MathJax 2.7.5's
  runtime with its TeX fonts (build.py names eight MathJax files; the rest load on demand when a
  plot shows LaTeX);
- every file is written under a temporary name and renamed into place; ``static/version.built``
  (which tells build.py not to download) is written last;
- visdom 0.2.4's ``index.html`` asks tornado for ``static_url("../user/style.css")``, which tornado
  6.6 and later refuse (a path outside static/), so the page answers 403; that one expression is
  rewritten to the same URL, ``<base_url>/user/style.css``, built without leaving static/;
- ``static/torchcourse-assets.json`` records the SHA-256 of every installed file, so a second run
  verifies them without the network (a fraction of a second) and re-fetches only the packages
  whose files are missing or damaged.

    python -m course_tools visdom-assets [--check] [--best-effort] [--static DIR]

The course works without these files: the visdom server's API still answers when it is started
without the download step, and ``torchcourse.live.LiveView`` falls back to matplotlib when no
server runs.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .files import sha256, write_atomic

VISDOM_VERSION = "0.2.4"  # the build.py these file names were read from
MANIFEST = "torchcourse-assets.json"
BUILT_MARKER = "version.built"
MATHJAX_DIR = "js/mathjax/2.7.5"
NPM_TIMEOUT_S = 300


class AssetsUnavailable(RuntimeError):
    """The libraries could not be fetched or installed; the message says why and what to do."""


@dataclass(frozen=True)
class Package:
    """One npm package and the files visdom needs from it.

    ``files`` pairs a path inside the package with a path under ``visdom/static``; ``tree`` and
    ``keep`` instead copy every file that ``keep`` accepts into the folder ``tree``, and
    ``required`` lists the paths (under ``tree``) that must be among them.
    """
    spec: str
    integrity: str
    files: tuple[tuple[str, str], ...] = ()
    tree: str | None = None
    keep: Callable[[str], bool] | None = None
    required: tuple[str, ...] = field(default=())


# Optional MathJax font families; visdom's page uses TeX (and STIX when a browser has it installed).
_OTHER_FONTS = {"STIX-Web", "Asana-Math", "Gyre-Pagella", "Gyre-Termes", "Latin-Modern", "Neo-Euler"}


def mathjax_runtime(path: str) -> bool:
    """The part of MathJax 2.7.5 a browser may load: no readable sources, no other languages or fonts."""
    parts = path.split("/")
    if len(parts) == 1:
        return path in {"MathJax.js", "LICENSE"}
    top = parts[0]
    if top == "config":
        return path in {"config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js", "config/local/local.js"}
    if top == "localization":
        return parts[1] == "en"
    if top == "fonts":  # web fonts for the HTML-CSS and CommonHTML output
        return path.startswith(("fonts/HTML-CSS/TeX/woff/", "fonts/HTML-CSS/TeX/otf/"))
    if top in {"extensions", "jax"}:
        return not _OTHER_FONTS.intersection(parts)
    return False


_BOOTSTRAP_FONTS = tuple(
    (f"dist/fonts/glyphicons-halflings-regular.{ext}", f"fonts/glyphicons-halflings-regular.{ext}")
    for ext in ("eot", "woff2", "woff", "ttf", "svg")
)

# What build.py downloads, and from which npm package the same file comes. Versions are build.py's;
# d3 v3 and d3-selection-multi v1 are the last releases of those lines (what d3js.org serves).
PACKAGES: tuple[Package, ...] = (
    Package("jquery@3.1.1",
            "sha512-zuiWRmx65Kd1oFGdWLvAjbsumdOBFvs3r1vuqCyKFF79R7exBHNbiNEJ8LR+xkzgfxqBznMD/4Cv6PHXS6mvEw==",
            (("dist/jquery.min.js", "js/jquery.min.js"),)),
    Package("bootstrap@3.3.7",
            "sha512-qcFaisBrcBhTFkz1IUnGDYnX6ZWfFzH8zOixUDtHW9Ip+r+7MfMFav2rzy7cIHc7rgIg7xjhWBoo1mS/U26j4g==",
            (("dist/js/bootstrap.min.js", "js/bootstrap.min.js"),
             ("dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
             *_BOOTSTRAP_FONTS,
             # build.py saves the svg font under its URL, fragment included, and checks that name
             ("dist/fonts/glyphicons-halflings-regular.svg",
              "fonts/glyphicons-halflings-regular.svg#glyphicons_halflingsregular"))),
    Package("react@16.2.0",
            "sha512-ZmIomM7EE1DvPEnSFAHZn9Vs9zJl5A9H7el0EGTE6ZbW9FKe/14IYAlPbC8iH25YarEQxZL+E8VW7Mi7kfQrDQ==",
            (("umd/react.production.min.js", "js/react-react.min.js"),)),
    Package("react-dom@16.2.0",
            "sha512-zpGAdwHVn9K0091d+hr+R0qrjoJ84cIBFL2uU60KvWBPfZ7LPSrfqviTxGHWN0sjPZb2hxWzMexwrvJdKePvjg==",
            (("umd/react-dom.production.min.js", "js/react-dom.min.js"),)),
    Package("react-modal@3.1.10",
            "sha512-7b77AGWCkdg0YOf/qcYIGCpuwbxRwOA8P3UrUovk4grUNv+idOmHovJAx/Dcd3fuwHtgixxVjpcjVG60985MSA==",
            (("dist/react-modal.min.js", "js/react-modal.min.js"),)),
    Package("plotly.js-dist-min@2.11.1",  # the same file as cdn.plot.ly/plotly-2.11.1.min.js
            "sha512-F9WWNht0D3yBLZGHbLoJNfvplXvy+GUPSsA/lCbMuYd/UwzSu6Vmyprxlps9Einw1LDS1hYBrJeioK0lE3ieXA==",
            (("plotly.min.js", "js/plotly-plotly.min.js"),)),
    Package("sjcl@1.0.7",
            "sha512-xQbiwKfiAj6vyk44ANJ5RRymALRdRZOuRoKNYkWUU404p/RFXmMaay1Z5vRn30GJjkD+psox4Jd38jZojSuNYA==",
            (("sjcl.js", "js/sjcl.js"),)),
    Package("layout-bin-packer@1.4.0",
            "sha512-dQOZnajbOBGIcS9YlzKrkRtMCGa2oEpyf1zGRn93suphSvPclJe54Sbgtb053GJ21DUk84IBzaeQvjn+Gb10fA==",
            (("dist/layout-bin-packer.js", "js/layout_bin_packer.js"),
             ("dist/layout-bin-packer.js.map", "js/layout-bin-packer.js.map"))),
    Package("d3@3.5.17",
            "sha512-yFk/2idb8OHPKkbAL8QaOaqENNoMhIaSHZerk3oQsECwkObkCpJyjYwCe+OHiq6UEdhe1m8ZGARRRO3ljFjlKg==",
            (("d3.min.js", "js/d3.v3.min.js"),)),
    Package("d3-selection-multi@1.0.1",
            "sha512-mEnRkJ6A+Otd1LuRPV3az+s/RLDmIEhuz/MnT21O2nPcWNH7wZotdIlRjMA4Wpr+n7AESQ5fD8v1J3nL2Mnw9g==",
            (("build/d3-selection-multi.js", "js/d3-selection-multi.v1.js"),)),
    Package("save-svg-as-png@1.4.17",
            "sha512-7QDaqJsVhdFPwviCxkgHiGm9omeaMBe1VKbHySWU6oFB2LtnGCcYS13eVoslUgq6VZC6Tjq/HddBd1K6p2PGpA==",
            (("lib/saveSvgAsPng.js", "js/saveSvgAsPng.js"),)),
    Package("react-resizable@1.4.6",
            "sha512-4zLORO51u0/mlDsrVCAA4p266d+3mb2ZMNdiWOotAh/PdnfrRzZhgePmKE08PSQatXVIfMjmyD+Sapay8tmxdQ==",
            (("css/styles.css", "css/react-resizable-styles.css"),)),
    Package("react-grid-layout@0.16.3",
            "sha512-ytP92EqUjqcFhGzvdeKrK610dQ04GdFwRCWtD6PoeL5wR3liETcFISO7k8RBqnosV86JtXf/DwIfrL0COLs0gg==",
            (("css/styles.css", "css/react-grid-layout-styles.css"),)),
    Package("classnames@2.2.5",  # unpkg.com/classnames@2.2.5 serves the package's main file
            "sha512-DTt3GhOUDKhh4ONwIJW4lmhyotQmV2LjNlGK/J2hkwUcqcbKkCLAdJPtxQnxnlc7SR3f1CEXCyMmc7WLUsWbNA==",
            (("index.js", "fonts/classnames"),)),
    Package("mathjax@2.7.5",
            "sha512-OzsJNitEHAJB3y4IIlPCAvS0yoXwYjlo2Y4kmm9KQzyIBZt2d8yKRalby3uTRNN4fZQiGL2iMXjpdP1u2Rq2DQ==",
            tree=MATHJAX_DIR, keep=mathjax_runtime,
            required=("config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js", "extensions/Safe.js",
                      "jax/output/SVG/fonts/TeX/fontdata.js", "jax/output/SVG/jax.js",
                      "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js", "jax/output/SVG/config.js",
                      "MathJax.js")),
)


# --- where visdom is -----------------------------------------------------------------------------

def visdom_folder() -> Path:
    """The installed visdom package's folder, found without importing it (that is slow)."""
    spec = importlib.util.find_spec("visdom")
    if spec is None or spec.origin is None:
        raise AssetsUnavailable("visdom is not installed in this Python environment.")
    return Path(spec.origin).parent


def visdom_version(folder: Path) -> str:
    """What ``visdom.__version__`` is, which build.py compares with ``static/version.built``."""
    try:
        return (folder / "VERSION").read_text().strip()
    except OSError:
        return "no_version_file"


# --- checking what is there ----------------------------------------------------------------------

def read_manifest(static: Path) -> dict[str, dict[str, str]]:
    """``{package spec: {path under static/: sha256}}`` as last installed; empty if unreadable."""
    try:
        packages = json.loads((static / MANIFEST).read_text())["packages"]
        return {spec: dict(files) for spec, files in packages.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def expected_targets(package: Package) -> list[str]:
    """The paths under static/ that must exist for this package."""
    if package.tree:
        return [f"{package.tree}/{path}" for path in package.required]
    return [target for _, target in package.files]


def damaged(static: Path, packages: Iterable[Package] = PACKAGES) -> list[Package]:
    """The packages whose files are missing, or differ from what was installed (no network)."""
    manifest = read_manifest(static)
    bad = []
    for package in packages:
        recorded = manifest.get(package.spec)
        if not recorded or not set(expected_targets(package)) <= set(recorded):
            bad.append(package)
            continue
        for target, digest in recorded.items():
            path = static / target
            if not path.is_file() or sha256(path) != digest:
                bad.append(package)
                break
    return bad


def is_built(static: Path, version: str) -> bool:
    try:
        return (static / BUILT_MARKER).read_text().strip() == version
    except OSError:
        return False


# --- visdom's page template ---------------------------------------------------------------------

TEMPLATE = "index.html"
UNSAFE_STYLE_URL = 'static_url("../user/style.css")'
# static_url("css/style.css") is <base_url>/static/css/style.css; drop the static part, add user/style.css
SAFE_STYLE_URL = ('static_url("css/style.css", include_version=False)[:-len("static/css/style.css")]'
                  ' + "user/style.css"')


def template_needs_patch(static: Path) -> bool:
    try:
        return UNSAFE_STYLE_URL in (static / TEMPLATE).read_text()
    except OSError:
        return False


def patch_template(static: Path) -> bool:
    """Rewrite the one URL in index.html that tornado >= 6.6 refuses; return whether it changed."""
    if not template_needs_patch(static):
        return False
    text = (static / TEMPLATE).read_text()
    write_atomic(static / TEMPLATE, text.replace(UNSAFE_STYLE_URL, SAFE_STYLE_URL).encode())
    return True


# --- fetching and installing ---------------------------------------------------------------------

def npm_pack(specs: list[str], dest: Path) -> dict[str, Path]:
    """Fetch the tarballs of ``specs`` into ``dest`` with one ``npm pack`` call."""
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsUnavailable("npm is not installed (it comes with Node.js: apt-get install npm).")
    command = [npm, "pack", *specs, "--json", "--pack-destination", str(dest), "--loglevel=error",
               "--fetch-retries=1", "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssetsUnavailable(f"npm pack did not finish in {NPM_TIMEOUT_S} s "
                                "(is the npm registry reachable?).") from None
    if result.returncode != 0:
        why = (result.stderr.strip() or result.stdout.strip() or "no message").splitlines()
        raise AssetsUnavailable("npm pack failed (is the npm registry reachable?): "
                                + " | ".join(why[:3])[:400])
    try:
        packed = {f"{entry['name']}@{entry['version']}": dest / entry["filename"]
                  for entry in json.loads(result.stdout)}
    except (ValueError, KeyError, TypeError):
        raise AssetsUnavailable(f"npm pack gave output this module cannot read: {result.stdout[:200]!r}")
    return packed


def integrity(path: Path) -> str:
    """npm's form of a tarball's hash: ``sha512-<base64>``."""
    digest = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def install_package(package: Package, tarball: Path, static: Path) -> dict[str, str]:
    """Copy the package's files from its verified tarball; return ``{target: sha256}``."""
    if integrity(tarball) != package.integrity:
        raise AssetsUnavailable(f"the tarball npm gave for {package.spec} does not match its pinned sha512.")
    installed: dict[str, str] = {}
    with tarfile.open(tarball) as tar:
        members = {}
        for member in tar.getmembers():  # npm tarballs hold one top folder, usually package/
            parts = member.name.split("/")
            if member.isfile() and len(parts) > 1 and ".." not in parts:
                members["/".join(parts[1:])] = member
        if package.tree:
            wanted = [(path, f"{package.tree}/{path}") for path in sorted(members) if package.keep(path)]
            missing = [path for path in package.required if path not in members]
        else:
            wanted = list(package.files)
            missing = [source for source, _ in wanted if source not in members]
        if missing:
            raise AssetsUnavailable(f"{package.spec} lacks {', '.join(missing)}.")
        for source, target in wanted:
            data = tar.extractfile(members[source]).read()
            write_atomic(static / target, data)
            installed[target] = hashlib.sha256(data).hexdigest()
    return installed


def ensure_assets(static: Path | None = None, packages: Iterable[Package] = PACKAGES,
                  fetch: Callable[[list[str], Path], dict[str, Path]] = npm_pack, log=print) -> Path:
    """Make sure every package's files are in ``static`` (default: visdom's) and marked as built.

    Verifies what is there first and fetches only the packages whose files are missing or
    damaged. Raises :class:`AssetsUnavailable`, saying why, when they cannot be fetched.
    """
    folder = visdom_folder()
    version = visdom_version(folder)
    static = Path(static) if static is not None else folder / "static"
    packages = tuple(packages)
    if version not in (VISDOM_VERSION, "no_version_file"):
        log(f"note: these files were chosen for visdom {VISDOM_VERSION}'s build.py; "
            f"visdom {version} may want others.")
    todo = damaged(static, packages)
    if todo or template_needs_patch(static) or not is_built(static, version):
        try:
            static.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AssetsUnavailable(f"cannot create {static} ({error}).") from None
        if not os.access(static, os.W_OK):
            raise AssetsUnavailable(f"cannot write to {static}: run this as the user who installed visdom.")
    if patch_template(static):
        log(f"visdom assets: {static / TEMPLATE} no longer asks for a file outside static/")
    if todo:
        log(f"visdom assets: fetching {len(todo)} npm package(s): {' '.join(p.spec for p in todo)}")
        manifest = read_manifest(static)
        with tempfile.TemporaryDirectory(prefix="visdom-assets-") as scratch:
            tarballs = fetch([p.spec for p in todo], Path(scratch))
            for package in todo:
                if package.spec not in tarballs:
                    raise AssetsUnavailable(f"npm pack did not return {package.spec}.")
                manifest[package.spec] = install_package(package, tarballs[package.spec], static)
                # record progress after each package, so an interrupted run resumes where it stopped
                write_atomic(static / MANIFEST, _manifest_json(manifest, version))
        if damaged(static, packages):
            raise AssetsUnavailable(f"files in {static} still fail verification after installing.")
    if not is_built(static, version):
        write_atomic(static / BUILT_MARKER, version.encode())
    count = sum(len(files) for spec, files in read_manifest(static).items()
                if spec in {p.spec for p in packages})
    log(f"visdom assets: {count} files verified in {static}")
    return static


def _manifest_json(manifest: dict[str, dict[str, str]], version: str) -> bytes:
    return json.dumps({"visdom": version, "packages": manifest}, indent=1, sort_keys=True).encode()


# --- command line --------------------------------------------------------------------------------

WITHOUT_ASSETS = (
    "The course works without them: torchcourse.live.LiveView draws its curves with matplotlib when "
    "no visdom server runs, and a visdom server whose API works (its web page stays blank) starts "
    "without this step with:\n"
    "    python -c 'from visdom.server.run_server import main; main()'"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only verify what is installed (no network); exit 1 if anything is missing")
    parser.add_argument("--best-effort", action="store_true",
                        help="when the files cannot be fetched, explain and exit 0 (for set-up scripts)")
    parser.add_argument("--static", default=None, help="install here instead of visdom's static/ folder")
    args = parser.parse_args(argv)
    try:
        if args.check:
            folder = visdom_folder()
            static = Path(args.static) if args.static else folder / "static"
            bad = damaged(static)
            built = is_built(static, visdom_version(folder))
            unpatched = template_needs_patch(static)
            if bad or not built or unpatched:
                what = ", ".join([p.spec for p in bad] + [BUILT_MARKER] * (not built)
                                 + [TEMPLATE] * unpatched)
                print(f"visdom assets: missing or damaged in {static}: {what}")
                return 1
            print(f"visdom assets: all present and verified in {static}")
            return 0
        ensure_assets(args.static)
    except (AssetsUnavailable, OSError) as error:
        print(f"{'warning' if args.best_effort else 'error'}: could not install visdom's web page "
              f"libraries: {error}\n{WITHOUT_ASSETS}", file=sys.stderr)
        return 0 if args.best_effort else 1
    return 0

