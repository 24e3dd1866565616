"""verifier/ must share no code with the server: no import of ledger, drawsvc or web."""

import ast
from pathlib import Path

BANNED = {"ledger", "drawsvc", "web"}
ALLOWED_THIRD_PARTY = {"nacl", "rfc8785", "click", "tqdm", "requests", "py_ecc", "chinese_calendar", "orjson", "pysmx"}
ROOT = Path(__file__).resolve().parents[2] / "verifier"


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                out.append((node.module, node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in (
                "__import__", "import_module") and node.args and isinstance(node.args[0], ast.Constant):
            out.append((str(node.args[0].value), node.lineno))
    return out


def test_verifier_modules_exist():
    assert (ROOT / "cli.py").exists()
    assert len(list(ROOT.rglob("*.py"))) >= 5


def test_no_server_imports():
    bad = []
    for path in ROOT.rglob("*.py"):
        for mod, line in _imports(path):
            if mod.split(".")[0] in BANNED:
                bad.append(f"{path.relative_to(ROOT.parent)}:{line} imports {mod}")
    assert not bad, "verifier/ must not import server code:\n" + "\n".join(bad)


def test_only_allowed_dependencies():
    import sys

    stdlib = set(sys.stdlib_module_names)
    bad = []
    for path in ROOT.rglob("*.py"):
        for mod, line in _imports(path):
            top = mod.split(".")[0]
            if top not in stdlib and top not in ALLOWED_THIRD_PARTY and top != "verifier" and top != "__future__":
                bad.append(f"{path.relative_to(ROOT.parent)}:{line} imports {mod}")
    assert not bad, "\n".join(bad)


def test_the_standalone_distribution_declares_exactly_the_allowed_dependencies():
    """`pip install ./verifier` must bring everything the verifier imports, and nothing of the server's."""
    import re
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower() for d in meta["project"]["dependencies"]}
    import_names = {"pynacl": "nacl", "py-ecc": "py_ecc", "chinese-calendar": "chinese_calendar",
                    "snowland-smx": "pysmx"}
    assert {import_names.get(n, n) for n in names} == ALLOWED_THIRD_PARTY
    assert meta["tool"]["setuptools"]["packages"] == ["verifier"]
    assert meta["project"]["scripts"]["drawverify"] == "verifier.cli:main"
