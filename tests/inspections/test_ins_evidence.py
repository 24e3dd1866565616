"""Evidence: type by content, size limit, SHA-256 on the log (never the file), versions not replacements."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
PDF = b"%PDF-1.4\n" + bytes(64)


def _task(login: Any) -> str:
    return login("op-scjg").get("/api/v1/inspections/tasks").get_json()["tasks"][0]["id"]


def _post(client: Any, task: str, name: str, data: bytes, mimetype: str = "application/octet-stream") -> Any:
    return client.post(f"/api/v1/inspections/tasks/{task}/evidence", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name, mimetype), "label": "照片"})


def test_upload_logs_the_hash_and_a_second_upload_is_a_new_version(app: Any, login: Any) -> None:
    ops, task = login("op-scjg"), _task(login)
    ledger = app.extensions["ledger"]
    before = ledger.size()
    r = _post(ops, task, "现场照片.png", PNG, "image/png")
    assert r.status_code == 201, r.get_json()
    ev = r.get_json()["evidence"][0]
    entry = ledger.entry(before)
    assert entry.type == "inspection.evidence.added" and entry.actor_id == "user:op-scjg"
    assert entry.payload["sha256"] == hashlib.sha256(PNG).hexdigest() == ev["sha256"]
    assert "现场照片" not in str(entry.payload)  # the log holds the hash, not the file or its name
    r = _post(ops, task, "现场照片.png", PNG + b"changed", "image/png")
    second = r.get_json()["evidence"][0]
    assert second["version"] == 2 and second["replaces"] == ev["n"]
    got = ops.get(f"/api/v1/inspections/tasks/{task}/evidence/{ev['n']}")
    assert got.status_code == 200 and got.data == PNG and got.headers["X-Content-SHA256"] == ev["sha256"]
    assert app.test_client().get(f"/api/v1/inspections/tasks/{task}/evidence/{ev['n']}").status_code == 401
    assert login("op-yjgl").get(f"/api/v1/inspections/tasks/{task}/evidence/{ev['n']}").status_code == 403


@pytest.mark.parametrize("name,data,mimetype,status", [
    ("big.pdf", b"%PDF-1.4\n" + bytes(300 * 1024), "application/pdf", 413),
    ("fake.pdf", b"just some text pretending", "application/pdf", 422),
    ("photo.png", JPEG, "image/png", 422),  # a JPEG named .png
    ("scan.pdf", PNG, "application/pdf", 422),  # a PNG named .pdf
    ("record.pdf", PDF, "image/png", 422),  # declared type contradicts the content
    ("run.exe", b"MZ\x90\x00" + bytes(32), "application/octet-stream", 422),
    ("empty.png", b"", "image/png", 422),
])
def test_bad_files_are_refused_and_write_nothing(app: Any, login: Any, name: str, data: bytes, mimetype: str,
                                                 status: int) -> None:
    ops, task = login("op-scjg"), _task(login)
    before = app.extensions["ledger"].size()
    r = _post(ops, task, name, data, mimetype)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["message"]
    assert app.extensions["ledger"].size() == before


def test_tampered_file_on_disk_is_detected(app: Any, login: Any) -> None:
    ops, task = login("op-scjg"), _task(login)
    ev = _post(ops, task, "笔录.jpg", JPEG, "image/jpeg").get_json()["evidence"][0]
    root = app.extensions["instance"].home / "evidence"
    path = next(root.rglob(ev["sha256"]))
    path.write_bytes(JPEG + b"x")
    assert ops.get(f"/api/v1/inspections/tasks/{task}/evidence/{ev['n']}").status_code == 409
