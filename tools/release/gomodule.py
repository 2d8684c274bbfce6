"""The Go SDK as a module in a GOPROXY directory: `GOPROXY=file:///path/to/dist/goproxy` (or the same
tree on any static HTTPS host) serves it to `go get <module>/copyai@v<version>`.

    goproxy/<escaped module path>/@v/list            the versions, one a line
    goproxy/<escaped module path>/@v/v<version>.info {"Version": ..., "Time": ...}
    goproxy/<escaped module path>/@v/v<version>.mod  its go.mod
    goproxy/<escaped module path>/@v/v<version>.zip  the module zip (golang.org/x/mod/zip's layout)
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path


def escape(path: str) -> str:
    """The module path as the proxy protocol spells it: each upper-case letter as '!' + lower case."""
    return "".join(f"!{c.lower()}" if c.isupper() else c for c in path)


def module_path(go_mod: Path) -> str:
    for line in go_mod.read_text().splitlines():
        if line.startswith("module "):
            return line.split()[1].strip('"')
    raise SystemExit(f"{go_mod}: no module line")


def write_proxy(module_dir: Path, version: str, out: Path, time: str = "2000-01-01T00:00:00Z") -> Path:
    """Add module_dir (holding go.mod) at v<version> to the GOPROXY tree at out; returns the zip."""
    module = module_path(module_dir / "go.mod")
    tag = f"v{version}"
    base = out / escape(module) / "@v"
    base.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in module_dir.rglob("*") if p.is_file())
    for path in files:
        rel = path.relative_to(module_dir)
        if rel.parts[0] == "vendor" or (path.name == "go.mod" and rel != Path("go.mod")):
            raise SystemExit(f"{path}: a module zip cannot hold vendor/ or a nested module")
    archive = base / f"{tag}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(f"{module}@{tag}/{path.relative_to(module_dir).as_posix()}", (2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    (base / f"{tag}.mod").write_bytes((module_dir / "go.mod").read_bytes())
    (base / f"{tag}.info").write_text(json.dumps({"Version": tag, "Time": time}) + "\n")
    listed = set((base / "list").read_text().split()) if (base / "list").exists() else set()
    (base / "list").write_text("".join(f"{v}\n" for v in sorted(listed | {tag})))
    return archive
