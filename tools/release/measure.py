"""Measure a release's plugin archives: their sizes, and how long the host platform's plugin takes to start
(until it prints its port, as the engine waits for) the first time (nothing compiled yet: Python writes
the bytecode cache) and later, with each CPython 3.10-3.13 found. Prints a Markdown table (the README's).

    python tools/release/measure.py [DIST] [--runs N] [--python 3.12=/path/to/python3.12 ...]

DIST defaults to dist/. Interpreters: `python3.X` on PATH, else pyenv's ~/.pyenv/versions/3.X.*/bin.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from platforms import PLATFORMS, PYTHONS

ROOT = Path(__file__).resolve().parents[2]


def host_platform() -> str:
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "windows"}[platform.system()]
    machine = {"x86_64": "amd64", "amd64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    return f"{system}-{machine[platform.machine()]}"


def find_python(version: str) -> str | None:
    """A CPython `version` (3.X): pyenv's, else python3.X on PATH; each checked by running it."""
    candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    on_path = shutil.which(f"python{version}")
    for candidate in [*reversed(candidates), *([on_path] if on_path else [])]:
        done = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate
    return None


def start_seconds(plugin_dir: Path, python: str, timeout: float = 60) -> float:
    """Seconds from starting the launcher until the plugin prints its port; the plugin is then stopped."""
    launcher = plugin_dir / PLATFORMS[host_platform()].launcher
    env = {**os.environ, "PULUMI_COPYAI_PYTHON": python}
    started = time.monotonic()
    proc = subprocess.Popen([str(launcher), "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        elapsed = time.monotonic() - started
        if not line.strip().isdigit():
            proc.kill()
            raise SystemExit(f"{launcher} with {python} printed {line!r}, not a port: {proc.communicate()[1]}")
        return elapsed
    finally:
        proc.kill()
        proc.wait(timeout)


def measure(dist: Path, runs: int, pythons: dict[str, str]) -> str:
    release = json.loads((dist / "release.json").read_text())
    version = release["version"]
    lines = ["| archive | size | unpacked |", "| --- | ---: | ---: |"]
    host = host_platform()
    host_archive = dist / f"pulumi-resource-copyai-v{version}-{host}.tar.gz"
    for name in PLATFORMS:
        archive = dist / f"pulumi-resource-copyai-v{version}-{name}.tar.gz"
        if archive.exists():
            with tarfile.open(archive) as tar:
                unpacked = sum(m.size for m in tar.getmembers() if m.isfile())
            lines.append(f"| {name} | {archive.stat().st_size / 1e6:.1f} MB | {unpacked / 1e6:.0f} MB |")
    lines += ["", f"Start of the {host} plugin until it serves (median of {runs} runs; {os.cpu_count()} CPUs):", "",
              "| CPython | first start | later starts |", "| --- | ---: | ---: |"]
    for version_name, python in pythons.items():
        first, later = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="copyai-measure-") as tmp:
                with tarfile.open(host_archive) as tar:
                    tar.extractall(tmp, filter="data")
                first.append(start_seconds(Path(tmp), python))
                later.append(start_seconds(Path(tmp), python))
        lines.append(f"| {version_name} | {statistics.median(first):.2f} s | {statistics.median(later):.2f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dist", nargs="?", default=str(ROOT / "dist"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", action="append", default=[], help="3.X=/path/to/python")
    args = parser.parse_args()
    pythons = dict(item.split("=", 1) for item in args.python)
    if not pythons:
        for version in PYTHONS:
            found = find_python(version)
            if found:
                pythons[version] = found
    print(measure(Path(args.dist), args.runs, pythons))


if __name__ == "__main__":
    main()
