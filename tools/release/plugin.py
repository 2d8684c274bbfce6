"""The plugin archives: pulumi-resource-copyai-v<version>-<os>-<arch>.tar.gz, one per platform.

    pulumi-resource-copyai[.cmd]   the launcher the engine starts (sh; .cmd on Windows): picks a CPython
    launcher.py                    3.10-3.13 and runs launcher.py, which serves the provider from lib/
    lib/common/                    packages every Python shares (pure Python and abi3), unpacked
    lib/cp310/ ... lib/cp313/      packages built for one CPython ABI (grpcio, pyyaml, ...), unpacked
    lib/manifest.json              platform, versions, and which wheel went where
    README.txt

The wheels come from PyPI through `pip download --only-binary=:all: --platform ... --python-version ...`
at build time, pinned by tools/release/plugin-constraints.txt, and are cached per pins, platform and
Python under ~/.cache/pulumi-copyai/wheelhouse/. They are unpacked at build time rather than on the
user's machine: a start then needs no pip, no venv module (Debian's python3 has neither), no lock
between plugin processes starting at once, and no first-start install; the archive is about the same
size either way (wheels are zip files, the tarball compresses the unpacked files as well).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename
from platforms import EXCLUDED, PLATFORMS, PYTHONS, Platform

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "plugin-constraints.txt"
LAUNCHER = HERE / "launcher"
RECIPE = "1"  # bump when the way a wheelhouse is downloaded changes


def log(message: str) -> None:
    print(f"[release] {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    base = os.environ.get("PULUMI_CLI_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pulumi-copyai")
    return Path(base)


def runtime_requirements() -> list[str]:
    """The plugin's top-level requirements: the package's own dependencies, at the pins of
    requirements-dev.txt (what `make test` runs against)."""
    import tomllib

    declared = tomllib.loads((ROOT / "provider" / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {canonicalize_name(dep.split(">")[0].split("<")[0].split("=")[0].split("~")[0].strip())
             for dep in declared}
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line and canonicalize_name(line.split("==")[0]) in names:
            pins[canonicalize_name(line.split("==")[0])] = line
    missing = names - set(pins)
    if missing:
        raise SystemExit(f"requirements-dev.txt pins none of {sorted(missing)} (the package's dependencies)")
    return [pins[name] for name in sorted(pins)]


def pip_target_args(platform: Platform, python: str) -> list[str]:
    major, minor = python.split(".")
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python,
            "--abi", f"cp{major}{minor}"]
    for name in platform.pip_platforms:
        args += ["--platform", name]
    return args


# -- the wheelhouse -------------------------------------------------------------------------------
def wheelhouse(platform: Platform, python: str) -> Path:
    """The wheels the plugin needs with CPython `python` on `platform`: downloaded once per pins
    (requirements, constraints), platform and Python, into the cache, then reused."""
    requirements = runtime_requirements()
    key_text = "\n".join([RECIPE, *requirements, CONSTRAINTS.read_text(), platform.name, *platform.pip_platforms,
                          python])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    target = cache_root() / "wheelhouse" / f"{platform.name}-cp{python.replace('.', '')}-{key}"
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp.", dir=target.parent))
    try:
        (tmp / "requirements.txt").write_text("\n".join(requirements) + "\n")
        log(f"pip download: wheels for {platform.name}, CPython {python} (once per set of pins) into {target}")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--dest", str(tmp),
             "-r", str(tmp / "requirements.txt"), "-c", str(CONSTRAINTS), *pip_target_args(platform, python)],
            text=True, capture_output=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"pip download for {platform.name} CPython {python} failed:\n{done.stdout}{done.stderr}")
        for wheel in tmp.glob("*.whl"):
            _name, _version, _build, wheel_tags = parse_wheel_filename(wheel.name)
            if not wheel_tags & platform.supported_tags(python):
                raise SystemExit(f"pip downloaded {wheel.name}, which CPython {python} on {platform.name} cannot use")
        (tmp / ".complete").touch()
        try:
            tmp.rename(target)
        except OSError:  # another build put its copy there first
            if not (target / ".complete").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def wheels_by_python(platform: Platform) -> dict[str, dict[str, Path]]:
    """python -> {wheel file name: path}, debugpy (EXCLUDED) left out."""
    found: dict[str, dict[str, Path]] = {}
    for python in PYTHONS:
        house = wheelhouse(platform, python)
        found[python] = {w.name: w for w in sorted(house.glob("*.whl"))
                         if canonicalize_name(parse_wheel_filename(w.name)[0]) not in EXCLUDED}
    return found


# -- assembling an archive ------------------------------------------------------------------------
def unpack_wheel(wheel: Path, dest: Path) -> None:
    """Install a wheel into `dest` the way pip does for the import system: its files, its dist-info,
    and its .data/purelib and .data/platlib merged in (scripts, headers and data are not needed)."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts = info.filename.split("/")
            if any(part in ("", "..") for part in parts) or info.filename.startswith("/"):
                raise SystemExit(f"{wheel.name}: unsafe path {info.filename!r}")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def assemble(platform: Platform, provider_wheel: Path, version: str, root: Path) -> dict[str, object]:
    """Lay out the archive's files for `platform` under `root`; returns the manifest."""
    by_python = wheels_by_python(platform)
    shared = set.intersection(*(set(wheels) for wheels in by_python.values()))
    lib = root / "lib"
    manifest: dict[str, object] = {
        "plugin": "copyai", "version": version, "platform": platform.name,
        "pythons": list(PYTHONS), "excluded": EXCLUDED,
        "common": sorted([provider_wheel.name, *shared]),
        **{f"cp{p.replace('.', '')}": sorted(set(by_python[p]) - shared) for p in PYTHONS},
    }
    unpack_wheel(provider_wheel, lib / "common")
    for name in sorted(shared):
        unpack_wheel(by_python[PYTHONS[0]][name], lib / "common")
    for python in PYTHONS:
        tag = f"cp{python.replace('.', '')}"
        (lib / tag).mkdir(parents=True, exist_ok=True)
        for name in sorted(set(by_python[python]) - shared):
            unpack_wheel(by_python[python][name], lib / tag)
    (lib / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.copy(LAUNCHER / "launcher.py", root / "launcher.py")
    shutil.copy(LAUNCHER / platform.launcher, root / platform.launcher)
    (root / "README.txt").write_text(README.format(version=version, platform=platform.name,
                                                   launcher=platform.launcher))
    return manifest


README = """\
The copyai Pulumi provider plugin v{version} for {platform}.

The Pulumi engine installs this archive by itself (the copyai SDKs name their download URL), or:
    pulumi plugin install resource copyai {version} --file <this archive>

It runs with the machine's CPython 3.10, 3.11, 3.12 or 3.13 (python3, or PULUMI_COPYAI_PYTHON=<path>),
offline: {launcher} picks the interpreter, launcher.py serves the provider from lib/ (common/ and the
interpreter's cp3XY/, unpacked wheels listed in lib/manifest.json).
"""


def write_tar_gz(root: Path, out: Path, executables: set[str]) -> None:
    """A reproducible tar.gz of root's contents: sorted, owner 0, fixed times and modes."""
    tmp = out.with_name(out.name + ".tmp")
    entries = sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix())
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6,
                                                 mtime=0) as gz, tarfile.open(fileobj=gz, mode="w",
                                                                              format=tarfile.PAX_FORMAT) as tar:
        for path in entries:
            name = path.relative_to(root).as_posix()
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 946684800  # 2000-01-01
            if info.isdir():
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o755 if name in executables else 0o644
                with open(path, "rb") as src:
                    tar.addfile(info, src)
    tmp.replace(out)


def archive_name(version: str, platform: Platform) -> str:
    return f"pulumi-resource-copyai-v{version}-{platform.name}.tar.gz"


def build_archive(platform: Platform, provider_wheel: Path, version: str, out_dir: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix=f"copyai-plugin-{platform.name}-") as tmp:
        root = Path(tmp)
        assemble(platform, provider_wheel, version, root)
        out = out_dir / archive_name(version, platform)
        write_tar_gz(root, out, {platform.launcher})
    return out


def build_archives(provider_wheel: Path, version: str, out_dir: Path, names: list[str]) -> list[Path]:
    """Every platform's archive; the wheelhouses first (downloads), then the archives two at a time."""
    from concurrent.futures import ThreadPoolExecutor

    platforms = [PLATFORMS[name] for name in names]
    for platform in platforms:
        wheels_by_python(platform)
    with ThreadPoolExecutor(max_workers=2) as pool:  # gzip runs outside the GIL
        return list(pool.map(lambda p: build_archive(p, provider_wheel, version, out_dir), platforms))
