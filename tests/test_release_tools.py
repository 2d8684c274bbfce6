"""The release tooling's cheap checks, in `make test` (the full build and its consumption are
`make test-release`, tests/test_release.py): the launcher's choice of Python on a plugin directory laid
out like an archive's, the pins of the archives against requirements-dev.txt, the schema's registry
metadata and the build-time settings, the Go module's proxy layout, and the compiled-file sniffing
of tools/release/verify.py. A few seconds in all."""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "release"))

import gomodule  # noqa: E402  (tools/release)
import plugin  # noqa: E402
import release  # noqa: E402
import verify  # noqa: E402
from platforms import PLATFORMS, PYTHONS  # noqa: E402

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

SCHEMA = ROOT / "provider" / "pulumi_copyai" / "plugin" / "schema.json"


# -- the launcher -----------------------------------------------------------------------------------
def _python(version: str) -> Path | None:
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    return Path(found[-1]) if found else None


FAKE_SERVER = """\
import sys
def main():
    print("served by %d.%d from %s" % (sys.version_info[0], sys.version_info[1], sys.path[0]))
"""


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A plugin directory laid out like an archive's, whose 'provider' prints the Python it runs on."""
    root = tmp_path / "plugin"
    server = root / "lib" / "common" / "pulumi_copyai" / "plugin"
    server.mkdir(parents=True)
    (server.parent / "__init__.py").write_text("")
    (server / "__init__.py").write_text("")
    (server / "server.py").write_text(FAKE_SERVER)
    for python in PYTHONS:
        (root / "lib" / f"cp{python.replace('.', '')}").mkdir()
    shutil.copy(plugin.LAUNCHER / "launcher.py", root / "launcher.py")
    shutil.copy(plugin.LAUNCHER / "pulumi-resource-copyai", root / "pulumi-resource-copyai")
    return root


def _launch(plugin_dir: Path, tmp_path: Path, pythons: dict[str, str], override: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run the launcher with a PATH of only `pythons` (name -> version) and dirname."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, version in pythons.items():
        found = _python(version)
        if found is None:
            pytest.skip(f"CPython {version} is not installed under ~/.pyenv/versions")
        (bin_dir / name).symlink_to(found)
    (bin_dir / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    if override:
        found = _python(override)
        if found is None:
            pytest.skip(f"CPython {override} is not installed under ~/.pyenv/versions")
        env["PULUMI_COPYAI_PYTHON"] = str(found)
    return subprocess.run([str(plugin_dir / "pulumi-resource-copyai"), "127.0.0.1:1"], env=env, text=True,
                          capture_output=True, check=False, timeout=60)


def test_launcher_runs_python3(plugin_dir: Path, tmp_path: Path) -> None:
    done = _launch(plugin_dir, tmp_path, {"python3": "3.12"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"served by 3.12 from {plugin_dir / 'lib' / 'cp312'}"


def test_launcher_falls_back_to_python3_x(plugin_dir: Path, tmp_path: Path) -> None:
    """python3 is 3.9: python3.13 (the first supported one of python3.13 ... python3.10) serves."""
    done = _launch(plugin_dir, tmp_path, {"python3": "3.9", "python3.13": "3.13", "python3.10": "3.10"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("served by 3.13 ")


def test_launcher_override(plugin_dir: Path, tmp_path: Path) -> None:
    done = _launch(plugin_dir, tmp_path, {"python3": "3.12"}, override="3.10")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("served by 3.10 ")


def test_launcher_without_a_suitable_python(plugin_dir: Path, tmp_path: Path) -> None:
    """Only 3.9 and 2.7: exit 1, naming what it found and what to do; nothing on stdout (the engine reads
    the port there)."""
    done = _launch(plugin_dir, tmp_path, {"python3": "3.9", "python": "2.7"})
    assert done.returncode == 1 and done.stdout == ""
    message = done.stderr
    assert "needs CPython 3.10, 3.11, 3.12 or 3.13" in message and "PULUMI_COPYAI_PYTHON" in message
    assert "python3 (3.9." in message and "python (2.7." in message, message


def test_launcher_rejects_an_unsuitable_override(plugin_dir: Path, tmp_path: Path) -> None:
    done = _launch(plugin_dir, tmp_path, {"python3": "3.12"}, override="3.9")
    assert done.returncode == 1 and done.stdout == ""
    assert "PULUMI_COPYAI_PYTHON=" in done.stderr and "(Python 3.9." in done.stderr, done.stderr


def test_launcher_python_without_its_packages(plugin_dir: Path, tmp_path: Path) -> None:
    """A supported version whose lib/cp3XY the archive lacks is not used."""
    (plugin_dir / "lib" / "cp312").rmdir()
    done = _launch(plugin_dir, tmp_path, {"python3": "3.12", "python3.11": "3.11"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("served by 3.11 ")


# -- the archives' pins -------------------------------------------------------------------------------
def test_archive_pins_follow_requirements_dev() -> None:
    """Every runtime requirement pinned in requirements-dev.txt is pinned alike in plugin-constraints.txt,
    so the archives ship what `make test` tested; else `make release-lock`."""
    constraints = {line.split(";")[0].strip() for line in plugin.CONSTRAINTS.read_text().splitlines()
                   if line.strip() and not line.startswith("#")}
    for pin in plugin.runtime_requirements():
        assert pin.split(";")[0].strip() in constraints, (
            f"{pin} (requirements-dev.txt) is not what tools/release/plugin-constraints.txt pins: run "
            "`make release-lock` and commit it")


# -- the schema's registry metadata and the build settings ------------------------------------------------
def test_schema_registry_metadata() -> None:
    schema = json.loads(SCHEMA.read_text())
    for key in ("displayName", "description", "publisher", "repository", "homepage", "license", "logoUrl"):
        assert schema.get(key), key
    assert any(k.startswith("category/") for k in schema["keywords"]) and "kind/native" in schema["keywords"]
    assert schema["pluginDownloadURL"].endswith("/v${VERSION}")
    go_base = schema["language"]["go"]["importBasePath"]
    assert go_base.startswith(schema["repository"].removeprefix("https://") + "/sdk/go/")


def _settings(**given: str | None) -> dict[str, str]:
    args = {"version": None, "repository": None, "plugin_download_url": None, "go_module": None, "npm_package": None}
    args.update(given)
    return release.settings_from(argparse.Namespace(**args))


def test_release_settings() -> None:
    schema = json.loads(SCHEMA.read_text())
    defaults = _settings()
    assert defaults["version"] == schema["version"]
    assert defaults["plugin_download_url"] == schema["pluginDownloadURL"]
    assert defaults["go_module"] + "/copyai" == schema["language"]["go"]["importBasePath"]

    fork = _settings(version="1.2.3", repository="github.com/acme/pulumi-copyai")
    assert fork["plugin_download_url"] == "https://github.com/acme/pulumi-copyai/releases/download/v${VERSION}"
    assert fork["go_module"] == "github.com/acme/pulumi-copyai/sdk/go"
    assert fork["logo_url"] == "https://raw.githubusercontent.com/acme/pulumi-copyai/main/docs/logo.svg"
    assert _settings(plugin_download_url="https://mirror.example.com/x")["plugin_download_url"] == \
        "https://mirror.example.com/x"
    with pytest.raises(SystemExit, match="/v2"):
        _settings(version="2.0.0")
    assert _settings(version="2.0.0", go_module="github.com/acme/pulumi-copyai/sdk/go/v2")["version"] == "2.0.0"
    with pytest.raises(SystemExit, match="X.Y.Z"):
        _settings(version="1.2")


def test_patch_schema(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    shutil.copy(SCHEMA, path)
    settings = _settings(version="3.4.5", repository="github.com/acme/pulumi-copyai",
                         go_module="github.com/acme/pulumi-copyai/sdk/go/v3", npm_package="@acme/copyai")
    release.patch_schema(path, settings)
    schema = json.loads(path.read_text())
    assert schema["version"] == "3.4.5"
    assert schema["pluginDownloadURL"] == "https://github.com/acme/pulumi-copyai/releases/download/v${VERSION}"
    assert schema["repository"] == schema["homepage"] == "https://github.com/acme/pulumi-copyai"
    assert schema["language"]["go"]["importBasePath"] == "github.com/acme/pulumi-copyai/sdk/go/v3/copyai"
    assert schema["language"]["nodejs"]["packageName"] == "@acme/copyai"


# -- the Go module in GOPROXY layout ----------------------------------------------------------------------
def test_go_module_proxy_layout(tmp_path: Path) -> None:
    archive = gomodule.write_proxy(ROOT / "sdk" / "go", "0.1.0", tmp_path)
    module = gomodule.module_path(ROOT / "sdk" / "go" / "go.mod")
    base = tmp_path / gomodule.escape(module) / "@v"
    assert archive == base / "v0.1.0.zip"
    assert (base / "list").read_text() == "v0.1.0\n"
    assert json.loads((base / "v0.1.0.info").read_text())["Version"] == "v0.1.0"
    assert (base / "v0.1.0.mod").read_bytes() == (ROOT / "sdk" / "go" / "go.mod").read_bytes()
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert f"{module}@v0.1.0/go.mod" in names and f"{module}@v0.1.0/copyai/webhook.go" in names
    assert all(n.startswith(f"{module}@v0.1.0/") for n in names)
    gomodule.write_proxy(ROOT / "sdk" / "go", "0.2.0", tmp_path)
    assert (base / "list").read_text() == "v0.1.0\nv0.2.0\n"
    assert gomodule.escape("github.com/Acme/X") == "github.com/!acme/!x"


# -- verify.py's reading of compiled files ------------------------------------------------------------------
def _elf(machine: int) -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(11) + struct.pack("<H", machine) + bytes(44)


def _pe(machine: int) -> bytes:
    blob = bytearray(b"MZ" + bytes(0x3A) + struct.pack("<I", 0x80) + bytes(0x80 - 0x40))
    blob += b"PE\0\0" + struct.pack("<H", machine) + bytes(58)
    return bytes(blob)


def test_binary_kinds() -> None:
    assert verify.binary_kind(_elf(0x3E)[:64], _elf(0x3E)) == ("elf", {"x86_64"})
    assert verify.binary_kind(_elf(0xB7)[:64], _elf(0xB7)) == ("elf", {"aarch64"})
    macho = b"\xcf\xfa\xed\xfe" + struct.pack("<I", 0x0100000C) + bytes(56)
    assert verify.binary_kind(macho[:64], macho) == ("macho", {"arm64"})
    fat = b"\xca\xfe\xba\xbe" + struct.pack(">I", 2) + struct.pack(">I", 0x01000007) + bytes(16) \
        + struct.pack(">I", 0x0100000C) + bytes(16)
    assert verify.binary_kind(fat[:64], fat) == ("macho", {"x86_64", "arm64"})
    assert verify.binary_kind(_pe(0x8664)[:64], _pe(0x8664)) == ("pe", {"amd64"})
    assert verify._abi_of("_cygrpc.cpython-312-x86_64-linux-gnu.so") == "312"
    assert verify._abi_of("_message.abi3.so") == "abi3"
    assert verify._abi_of("_yaml.cp313-win_amd64.pyd") == "313"


def test_platform_tags() -> None:
    """Each platform accepts its own wheels and not the others'."""
    linux = PLATFORMS["linux-amd64"].supported_tags("3.12")
    assert any(t.platform == "manylinux2014_x86_64" and t.abi == "cp312" for t in linux)
    assert not any("aarch64" in t.platform or "macosx" in t.platform for t in linux)
    mac = PLATFORMS["darwin-arm64"].supported_tags("3.10")
    assert any(t.platform == "macosx_11_0_universal2" for t in mac)
    assert not any(t.platform.endswith("x86_64") for t in mac)
    assert PLATFORMS["windows-amd64"].launcher == "pulumi-resource-copyai.cmd"
    names = {plugin.archive_name("0.1.0", p) for p in PLATFORMS.values()}
    assert names == {f"pulumi-resource-copyai-v0.1.0-{n}.tar.gz" for n in PLATFORMS}
