"""The content hash of the package's sources (provider/), to tell whether .venv's install is current.

    python scripts/package_hash.py     # prints the hash
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PROVIDER = Path(__file__).resolve().parent.parent / "provider"
SUFFIXES = {".py", ".json", ".toml", ".typed", ".md", ".yaml"}


def package_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(PROVIDER.rglob("*")):
        parts = path.relative_to(PROVIDER).parts
        if path.is_file() and path.suffix in SUFFIXES and not {"build", "dist"} & set(parts) \
                and not any(p.endswith(".egg-info") or p == "__pycache__" for p in parts):
            digest.update(str(path.relative_to(PROVIDER)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    print(package_hash())
