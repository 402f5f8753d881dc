"""Evidence (佐证材料): a link, or an uploaded file checked by its content and kept under its hash.

A file's extension must be allowed and its first bytes must be what that type starts with, so a
renamed executable or web page is refused; files are stored once as evidence/<sha256><ext>.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from duban.ledger.database import private_dir, private_file
from duban.reports.errors import ReportInputError
from duban.reports.inputs import BIDI, CONTROL

EVIDENCE_LIMIT = 10 * 1024 * 1024
EVIDENCE_TYPES = (".pdf", ".jpg", ".jpeg", ".png", ".docx", ".xlsx", ".doc", ".xls", ".zip",
                  ".txt")
ALLOWED_TEXT = "pdf, jpg, png, docx, xlsx, doc, xls, zip, txt"
_MAGIC = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    ".xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
}


@dataclass(frozen=True)
class EvidenceFile:
    """An uploaded file, kept under evidence/ named by its SHA-256."""

    filename: str
    content: bytes
    size: int | None = None  # the declared size, when only the first bytes were read


Evidence = str | EvidenceFile | None


def check_file(upload: EvidenceFile) -> tuple[str, str, str]:
    """(extension, sha256, cleaned original name) of an acceptable upload."""
    name = BIDI.sub("", CONTROL.sub("", os.path.basename(upload.filename.replace("\\", "/"))))
    name = name[-100:]
    ext = os.path.splitext(name)[1].lower()
    size = max(upload.size or 0, len(upload.content))
    if ext not in EVIDENCE_TYPES:
        raise ReportInputError(
            "evidence", f"不支持的文件类型“{ext or name}”，允许：{ALLOWED_TEXT}",
            f"file type {ext or name!r} is not allowed (allowed: {ALLOWED_TEXT})")
    if size > EVIDENCE_LIMIT:
        raise ReportInputError("evidence", f"文件过大（{size / 1048576:.1f} MB），上限 10 MB",
                               f"file is {size / 1048576:.1f} MB; the limit is 10 MB")
    if size == 0 or not content_matches(ext, upload.content):
        raise ReportInputError("evidence", f"文件内容与扩展名{ext}不符或文件已损坏",
                               f"file content is not a valid {ext} file")
    return ext, hashlib.sha256(upload.content).hexdigest(), name.replace("|", "_")


def content_matches(ext: str, content: bytes) -> bool:
    """Whether the bytes are plausibly a file of this type (text: UTF-8 or GB18030, no NUL)."""
    if ext == ".txt":
        if b"\x00" in content:
            return False
        for encoding in ("utf-8", "gb18030"):
            try:
                content.decode(encoding)
                return True
            except UnicodeDecodeError:
                continue
        return False
    return content.startswith(_MAGIC[ext])


def store_evidence(upload: EvidenceFile, evidence_dir: Path, sha: str, ext: str) -> Path:
    """Write the file once under its hash (atomic rename); an identical file is kept once."""
    private_dir(evidence_dir)  # evidence is readable by duban's account only (0700 / 0600)
    target = evidence_dir / f"{sha}{ext}"
    if not target.exists():
        partial = private_file(evidence_dir / f".{sha}.{uuid.uuid4().hex}.part")
        partial.write_bytes(upload.content)
        os.replace(partial, target)
    return target


def evidence_fingerprint(evidence: Evidence) -> str:
    """What distinguishes one piece of evidence from another, for derived keys."""
    if isinstance(evidence, EvidenceFile):
        return "sha256:" + hashlib.sha256(evidence.content).hexdigest()
    return (evidence or "").strip()
