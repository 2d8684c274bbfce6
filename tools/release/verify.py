"""Check a plugin archive without running it: that it holds, for each supported CPython, a complete set of
packages built for its platform, and nothing else.

    python tools/release/verify.py dist/pulumi-resource-copyai-v0.1.0-darwin-arm64.tar.gz ...

For each archive (its platform from its name):

- the launcher for the platform is there (sh, or .cmd on Windows), executable, with launcher.py;
- every wheel named in lib/manifest.json is one that CPython 3.X on the platform accepts (its tags against
  the tags `packaging` computes for that interpreter and the oldest OS the archive supports);
- complete: starting from pulumi-copyai, every requirement (Requires-Dist, markers evaluated for that
  Python and platform) is met by a distribution in lib/common or lib/cp3XY, at a matching version, except
  the ones left out on purpose (platforms.EXCLUDED), which no module of the archive imports;
- every compiled file (.so, .pyd, .dylib) is for the platform's OS and CPU (ELF machine, Mach-O CPU type
  or universal binary slices, PE machine), and those in lib/cp3XY are for CPython 3.X (or abi3);
- no emulator or test code: no pulumi_copyai/emulator, no test packages of ours.

Exit status 1 with a list of problems, else 0.
"""

from __future__ import annotations

import json
import re
import struct
import sys
import tarfile
from email.parser import Parser
from pathlib import PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version
from platforms import EXCLUDED, PLATFORMS, PYTHONS, Platform

NATIVE = (".so", ".pyd", ".dylib")
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64"}
MACHO_CPUS = {0x01000007: "x86_64", 0x0100000C: "arm64"}
PE_MACHINES = {0x8664: "amd64", 0xAA64: "arm64"}


def binary_kind(head: bytes, blob: bytes) -> tuple[str, set[str]]:
    """(format, CPU architectures) of a compiled file, from its header."""
    if head[:4] == b"\x7fELF":
        endian = "<" if head[5] == 1 else ">"
        (machine,) = struct.unpack(endian + "H", head[18:20])
        return "elf", {ELF_MACHINES.get(machine, hex(machine))}
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe"):
        (cpu,) = struct.unpack("<I", head[4:8])
        return "macho", {MACHO_CPUS.get(cpu, hex(cpu))}
    if head[:4] == b"\xca\xfe\xba\xbe":  # universal binary: big-endian fat header, then one entry per slice
        (count,) = struct.unpack(">I", blob[4:8])
        cpus = {MACHO_CPUS.get(struct.unpack(">I", blob[8 + 20 * i:12 + 20 * i])[0], "?") for i in range(count)}
        return "macho", cpus
    if head[:2] == b"MZ":
        (offset,) = struct.unpack("<I", blob[0x3C:0x40])
        if blob[offset:offset + 4] == b"PE\0\0":
            (machine,) = struct.unpack("<H", blob[offset + 4:offset + 6])
            return "pe", {PE_MACHINES.get(machine, hex(machine))}
    return "unknown", set()


EXPECTED_FORMAT = {"linux": "elf", "darwin": "macho", "windows": "pe"}


def _abi_of(filename: str) -> str | None:
    """The CPython version an extension module's file name is tagged for (e.g. '311'), 'abi3', or None."""
    if ".abi3." in filename:
        return "abi3"
    match = re.search(r"\.cpython-3(\d+)[-.]", filename) or re.search(r"\.cp3(\d+)-win", filename)
    return f"3{match.group(1)}" if match else None


def check_archive(path: str, platform: Platform | None = None) -> list[str]:
    name = PurePosixPath(path).name
    if platform is None:
        match = re.match(r"pulumi-resource-copyai-v[^-]+(?:-[^-]+)*?-(\w+-\w+)\.tar\.gz$", name)
        if not match or match.group(1) not in PLATFORMS:
            return [f"{name}: not named pulumi-resource-copyai-v<version>-<os>-<arch>.tar.gz for a known platform"]
        platform = PLATFORMS[match.group(1)]
    problems: list[str] = []
    with tarfile.open(path) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}

        def read(member: str) -> bytes:
            extracted = tar.extractfile(members[member])
            assert extracted is not None
            return extracted.read()

        # The launcher.
        for required in (platform.launcher, "launcher.py", "lib/manifest.json"):
            if required not in members:
                problems.append(f"{name}: no {required}")
        if problems:
            return problems
        if not members[platform.launcher].mode & 0o111:
            problems.append(f"{name}: {platform.launcher} is not executable")
        other = {"pulumi-resource-copyai", "pulumi-resource-copyai.cmd"} - {platform.launcher}
        if other & set(members):
            problems.append(f"{name}: carries {sorted(other & set(members))}, the launcher of another OS")
        manifest = json.loads(read("lib/manifest.json"))
        if manifest.get("platform") != platform.name:
            problems.append(f"{name}: manifest says platform {manifest.get('platform')}")

        # Nothing of the emulator's or the tests'.
        for member in members:
            parts = member.split("/")
            if "pulumi_copyai" in parts and "emulator" in parts[parts.index("pulumi_copyai"):]:
                problems.append(f"{name}: emulator code {member}")
                break
            if (len(parts) > 3 and parts[0] == "lib" and parts[2] in ("tests", "test")) \
                    or "pulumi_copyai_emulator" in member:
                problems.append(f"{name}: test or emulator code {member}")
                break

        # Every wheel: accepted by its Python(s) on this platform.
        for python in PYTHONS:
            tag = f"cp{python.replace('.', '')}"
            supported = platform.supported_tags(python)
            for wheel in [*manifest.get("common", []), *manifest.get(tag, [])]:
                if not parse_wheel_filename(wheel)[3] & supported:
                    problems.append(f"{name}: {wheel} is not for CPython {python} on {platform.name}")
            if f"lib/{tag}" not in members:
                problems.append(f"{name}: no lib/{tag}")

        # Compiled files: the platform's format and CPU; per-version ones for that version.
        for member, info in members.items():
            if not info.isfile() or not member.endswith(NATIVE):
                continue
            blob = read(member)
            kind, cpus = binary_kind(blob[:64], blob[:4096])
            if kind != EXPECTED_FORMAT[platform.os] or platform.machine not in cpus:
                problems.append(f"{name}: {member} is {kind} for {sorted(cpus)}, not {platform.os} {platform.machine}")
            parts = member.split("/")
            abi = _abi_of(parts[-1])
            if parts[1] == "common" and abi not in (None, "abi3"):
                problems.append(f"{name}: {member} is for CPython {abi} but in lib/common")
            if parts[1].startswith("cp3") and abi not in (None, "abi3", parts[1][2:]):
                problems.append(f"{name}: {member} is for CPython {abi} but in lib/{parts[1]}")

        # Complete: every requirement of pulumi-copyai, transitively, per Python.
        dists: dict[str, dict[str, tuple[str, list[str]]]] = {"common": {}}
        for member in members:
            parts = member.split("/")
            if len(parts) == 4 and parts[0] == "lib" and parts[2].endswith(".dist-info") and parts[3] == "METADATA":
                meta = Parser().parsestr(read(member).decode("utf-8", "replace"), headersonly=True)
                dists.setdefault(parts[1], {})[canonicalize_name(meta["Name"])] = (
                    meta["Version"], meta.get_all("Requires-Dist") or [])
        for python in PYTHONS:
            tag = f"cp{python.replace('.', '')}"
            available = {**dists["common"], **dists.get(tag, {})}
            environment = platform.markers(python)
            todo, seen = ["pulumi-copyai"], set()
            if "pulumi-copyai" not in available:
                problems.append(f"{name}: pulumi-copyai is not in lib/common")
                continue
            while todo:
                dist = todo.pop()
                if dist in seen:
                    continue
                seen.add(dist)
                for text in available[dist][1]:
                    requirement = Requirement(text)
                    if requirement.marker and not requirement.marker.evaluate(environment):
                        continue
                    needed = canonicalize_name(requirement.name)
                    if needed in EXCLUDED:
                        continue
                    if needed not in available:
                        problems.append(f"{name}: CPython {python}: {dist} requires {text}, which is missing")
                    elif not requirement.specifier.contains(Version(available[needed][0]), prereleases=True):
                        problems.append(f"{name}: CPython {python}: {dist} requires {text}, "
                                        f"found {available[needed][0]}")
                    else:
                        todo.append(needed)
            unused = set(dists.get(tag, {})) - seen
            if unused:
                problems.append(f"{name}: lib/{tag} holds {sorted(unused)}, which nothing requires")

        # What was left out is never imported.
        pattern = re.compile(rb"^\s*(import|from)\s+(" + b"|".join(n.encode() for n in EXCLUDED) + rb")\b", re.M)
        for member, info in members.items():
            if info.isfile() and member.endswith(".py") and pattern.search(read(member)):
                problems.append(f"{name}: {member} imports what the archive leaves out ({sorted(EXCLUDED)})")
    return problems


def main(argv: list[str]) -> int:
    problems = [problem for path in argv for problem in check_archive(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"verified {len(argv)} archive(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

