"""The platforms and Python versions the plugin archives are built for, and what each accepts.

One archive per platform (the engine picks `pulumi-resource-copyai-v<version>-<os>-<arch>.tar.gz` by the
machine's OS and CPU), holding the plugin's packages for each supported CPython (3.10 to 3.13).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from packaging import tags

PYTHONS = ("3.10", "3.11", "3.12", "3.13")

#: Left out of every archive: pulumi (the Python SDK) depends on debugpy to debug *programs* run by the
#: Python language host; neither the SDK's provider code nor this plugin imports it (checked by
#: tools/release/verify.py: no module of the archive imports it), and it would add 4 MB per archive.
EXCLUDED = {"debugpy": "pulumi's debugger for Pulumi programs; never imported by a provider plugin"}


@dataclass(frozen=True)
class Platform:
    name: str            # linux-amd64: the engine's <os>-<arch>
    os: str              # the engine's GOOS
    arch: str            # the engine's GOARCH
    pip_platforms: tuple[str, ...]  # `pip download --platform` values: the oldest OS this archive supports
    sys_platform: str    # the values of PEP 508 markers on this platform
    platform_system: str
    platform_machine: str
    os_name: str
    machine: str         # what compiled files must be built for: x86_64, aarch64, arm64, amd64
    launcher: str        # the executable the engine starts

    def supported_tags(self, python: str) -> frozenset[tags.Tag]:
        return _supported_tags(self, python)

    def markers(self, python: str) -> dict[str, str]:
        """The environment PEP 508 markers see on this platform under CPython `python` (3.X)."""
        return {
            "implementation_name": "cpython", "implementation_version": f"{python}.0",
            "os_name": self.os_name, "platform_machine": self.platform_machine,
            "platform_python_implementation": "CPython", "platform_release": "", "platform_system":
            self.platform_system, "platform_version": "", "python_full_version": f"{python}.0",
            "python_version": python, "sys_platform": self.sys_platform, "extra": "",
        }


def _manylinux(arch: str, oldest_glibc_minor: int, newest_glibc_minor: int) -> tuple[str, ...]:
    """manylinux tags from glibc 2.<newest> down to 2.<oldest>, with their legacy aliases."""
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    found: list[str] = []
    for minor in range(newest_glibc_minor, oldest_glibc_minor - 1, -1):
        found.append(f"manylinux_2_{minor}_{arch}")
        if minor in legacy:
            found.append(f"{legacy[minor]}_{arch}")
    return tuple(found)


PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    # glibc >= 2.17 (CentOS 7, Debian 8, Ubuntu 14.04 and later); musl (Alpine) is not covered.
    Platform("linux-amd64", "linux", "amd64", _manylinux("x86_64", 5, 17), "linux", "Linux", "x86_64", "posix",
             "x86_64", "pulumi-resource-copyai"),
    Platform("linux-arm64", "linux", "arm64", _manylinux("aarch64", 17, 17), "linux", "Linux", "aarch64", "posix",
             "aarch64", "pulumi-resource-copyai"),
    # macOS >= 11 (Big Sur); pip adds the older macOS versions and the universal2 wheels.
    Platform("darwin-amd64", "darwin", "amd64", ("macosx_11_0_x86_64",), "darwin", "Darwin", "x86_64", "posix",
             "x86_64", "pulumi-resource-copyai"),
    Platform("darwin-arm64", "darwin", "arm64", ("macosx_11_0_arm64",), "darwin", "Darwin", "arm64", "posix",
             "arm64", "pulumi-resource-copyai"),
    Platform("windows-amd64", "windows", "amd64", ("win_amd64",), "win32", "Windows", "AMD64", "nt",
             "amd64", "pulumi-resource-copyai.cmd"),
)}


@cache
def _supported_tags(platform: Platform, python: str) -> frozenset[tags.Tag]:
    """Every wheel tag CPython `python` accepts on `platform` (packaging's own rules, as pip applies them)."""
    major, minor = (int(part) for part in python.split("."))
    platforms: list[str] = []
    for name in platform.pip_platforms:
        if name.startswith("macosx_"):
            _, os_major, os_minor, arch = name.split("_", 3)
            platforms += tags.mac_platforms((int(os_major), int(os_minor)), arch)
        else:
            platforms.append(name)
    abi = f"cp{major}{minor}"
    found = set(tags.cpython_tags((major, minor), [abi], platforms))
    found |= set(tags.compatible_tags((major, minor), abi, platforms))
    return frozenset(found)
