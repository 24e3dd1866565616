"""Evidence files (检查笔录, photos, documents): type by content, SHA-256, immutable storage.

Only the hash goes on the log: the file itself may hold personal data, but anyone later shown
a file can check it against what was recorded that day. A file's type is decided by its
first bytes (magic), never by its name or the browser's word: a ".pdf" that is not a PDF is
refused. Files are stored under <instance>/evidence/<task>/<sha256> and never overwritten:
uploading the same name again makes a new version.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from drawsvc.i18n import N_, tr

from .errors import InvalidInput, TooLarge

MAX_BYTES = 10 * 1024 * 1024
TYPES = {  # media type: (magic prefixes, accepted extensions)
    "application/pdf": ((b"%PDF-",), (".pdf",)),
    "image/jpeg": ((b"\xff\xd8\xff",), (".jpg", ".jpeg")),
    "image/png": ((b"\x89PNG\r\n\x1a\n",), (".png",)),
}
LABELS = (N_("检查笔录"), N_("照片"), N_("文书"), N_("其他"))


def sniff(data: bytes) -> str | None:
    for media, (magics, _) in TYPES.items():
        if any(data.startswith(m) for m in magics):
            return media
    return None


def check_file(name: str, data: bytes, declared: str | None = None, limit: int = MAX_BYTES) -> str:
    """The file's media type, or an error: too big, empty, unknown type, or content not matching
    its extension or declared type."""
    if len(data) > limit:
        raise TooLarge(tr("文件超过 %(mb)s MB", mb=limit // (1024 * 1024)))
    if not data:
        raise InvalidInput(tr("空文件"))
    media = sniff(data)
    if media is None:
        raise InvalidInput(tr("只接受 PDF、JPEG、PNG 文件"))
    ext = os.path.splitext(name.lower())[1]
    if ext not in TYPES[media][1]:
        raise InvalidInput(tr("文件内容（%(media)s）与扩展名 %(value)s 不符", media=media, value=ext or tr("（无）")))
    if declared and declared not in ("application/octet-stream", media):
        raise InvalidInput(tr("文件内容（%(media)s）与声明的类型 %(declared)s 不符", media=media, declared=declared))
    return media


def safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip()
    base = re.sub(r"[\x00-\x1f/]", "_", base)[:200]
    if not base or base in (".", ".."):
        raise InvalidInput(tr("文件名无效"))
    return base


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store(root: Path, task_id: str, digest: str, data: bytes) -> str:
    """Write the bytes once under a content-addressed name; return the relative path."""
    rel = Path(re.sub(r"[^A-Za-z0-9_.-]", "_", task_id)) / digest
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return str(rel)
