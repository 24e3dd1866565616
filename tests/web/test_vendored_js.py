"""The vendored third-party JavaScript (web/static/js/lib/vendor/) is exactly what its manifest
records: the file's hashes, the npm versions and integrity values pinned in the lockfile, and no
code that loads anything from elsewhere at run time."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "web" / "static" / "js" / "lib" / "vendor"
JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js"


def load(name: str) -> Any:
    return json.loads((VENDOR / name).read_text(encoding="utf-8"))


MANIFEST = load("manifest.json")


@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_vendored_file_matches_its_recorded_hashes(name: str) -> None:
    rec = MANIFEST["files"][name]
    data = (VENDOR / name).read_bytes()
    assert len(data) == rec["bytes"]
    assert hashlib.sha256(data).hexdigest() == rec["sha256"]
    assert "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode() == rec["sha384"]


def test_every_js_file_in_vendor_is_in_the_manifest() -> None:
    """No unrecorded third-party script can sit next to the recorded ones (the entry files are
    build inputs, never loaded by a page)."""
    on_disk = {p.name for p in VENDOR.glob("*.js")} - {rec["entry"] for rec in MANIFEST["files"].values()}
    assert on_disk == set(MANIFEST["files"])


def test_manifest_pins_are_the_lockfiles() -> None:
    """The versions and sha512 integrity values recorded are those npm ci checks the tarballs against."""
    lock = load("package-lock.json")["packages"]
    pins = load("package.json")
    for name, rec in MANIFEST["packages"].items():
        # pinned in package.json, or (jsbn) a dependency of a pinned package, fixed by the lockfile
        assert pins["dependencies"].get(name, rec["version"]) == rec["version"]
        assert name in pins["dependencies"] or any(
            name in (p.get("dependencies") or {}) for k, p in lock.items() if k.removeprefix("node_modules/") in pins["dependencies"])
        assert lock[f"node_modules/{name}"]["version"] == rec["version"]
        assert lock[f"node_modules/{name}"]["integrity"] == rec["integrity"]
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", rec["integrity"])
    es = MANIFEST["build_tool"]["esbuild"]
    assert lock["node_modules/esbuild"]["version"] == es["version"] == pins["devDependencies"]["esbuild"]
    assert lock["node_modules/esbuild"]["integrity"] == es["integrity"]
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    for rec in [*MANIFEST["packages"].values(), es]:
        assert rec["integrity"] in readme
    for rec in MANIFEST["files"].values():
        assert rec["sha256"] in readme
        for pkg in rec["built_from"]:
            assert pkg in MANIFEST["packages"]


@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_bundle_loads_nothing_at_run_time(name: str) -> None:
    src = (VENDOR / name).read_text(encoding="utf-8")
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", src, flags=re.S)  # URLs in comments are references only
    assert not re.search(r"\bimport\s*\(|\bfetch\s*\(|XMLHttpRequest|importScripts|new\s+Worker|https?://", code)
    assert not re.search(r"^\s*import\b", code, flags=re.M)  # self-contained: imports nothing
    for export in MANIFEST["files"][name]["exports"]:
        assert re.search(r"^export\s*\{[^}]*\b" + export + r"\b", code, flags=re.M)


def test_page_modules_import_the_vendored_bundle_by_relative_path() -> None:
    """Every import in the page's modules is a relative path to a file that exists: no CDN, no
    bare package name."""
    for f in [*JS.glob("*.js"), *(JS / "lib").glob("*.js")]:
        for spec in re.findall(r"""^\s*import\s[^'"]*?from\s+["']([^"']+)["']""", f.read_text(encoding="utf-8"), flags=re.M):
            assert spec.startswith("./") or spec.startswith("../"), (f, spec)
            assert (f.parent / spec).resolve().is_file(), (f, spec)
    assert 'from "./lib/vendor/noble-bls12-381.js"' in (JS / "drand.js").read_text(encoding="utf-8")
    assert 'from "./vendor/sm-crypto-sm2.js"' in (JS / "lib" / "sm2.js").read_text(encoding="utf-8")
