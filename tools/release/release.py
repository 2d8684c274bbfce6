"""`make release`: everything a release of the copyai package needs, in one directory (default dist/).

    python tools/release/release.py build [--version X.Y.Z] [--out dist] [--repository github.com/ORG/REPO]
        [--plugin-download-url URL] [--go-module PATH] [--npm-package @SCOPE/NAME] [--platforms a,b,...]
    python tools/release/release.py lock          # re-pin tools/release/plugin-constraints.txt
    python tools/release/release.py set-version X.Y.Z   # bump the version in the sources (then `make sdk`)

`build` writes into the output directory (emptied first):

    pulumi-resource-copyai-vX.Y.Z-<os>-<arch>.tar.gz   the plugin, for linux-amd64, linux-arm64, darwin-amd64,
                                                       darwin-arm64, windows-amd64 (tools/release/plugin.py)
    pulumi_copyai-X.Y.Z-py3-none-any.whl, .tar.gz      the pip package (dynamic provider, plugin, CLIs)
    pulumi_copyai_emulator-X.Y.Z-...                   the emulator's distribution
    pulumi_copyai_sdk-X.Y.Z-...                        the generated Python SDK
    <scope>-copyai-X.Y.Z.tgz                           the TypeScript SDK's npm package
    goproxy/<module>/@v/vX.Y.Z.{info,mod,zip}, list    the Go SDK as a module, in GOPROXY layout
    pulumi-copyai-vX.Y.Z-checksums.txt                 sha256 of every file above (sha256sum -c)
    release.json                                       what was built, with which settings

The version, the plugin download URL, the repository and the Go module path are set at build time: the
sources are copied, those fields patched in the copy (schema.json, pyproject.toml, __init__.py), and the
SDKs generated from the patched schema, so each SDK names the URL the engine downloads the plugin from.
The defaults are the committed schema's: version, repository and pluginDownloadURL
(https://github.com/<org>/<repo>/releases/download/v${VERSION}, where the engine substitutes ${VERSION}).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gomodule
import plugin
import verify
from platforms import PLATFORMS, PYTHONS

ROOT = plugin.ROOT
SCHEMA = Path("pulumi_copyai") / "plugin" / "schema.json"
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
log = plugin.log


# -- versions and schema fields in a source tree ------------------------------------------------
def _sub(path: Path, pattern: str, replacement: str, count: int = 1) -> None:
    text = path.read_text()
    new, found = re.subn(pattern, replacement, text, flags=re.M)
    if found != count:
        raise SystemExit(f"{path}: expected {count} match(es) of {pattern!r}, found {found}")
    path.write_text(new)


def set_versions(provider: Path, version: str) -> None:
    """Write `version` into every place of provider/ (the sources' root) that names the package's version."""
    _sub(provider / "pyproject.toml", r'^version = "[^"]*"$', f'version = "{version}"')
    _sub(provider / "pyproject.toml", r'"pulumi-copyai-emulator==[^"]*"', f'"pulumi-copyai-emulator=={version}"')
    _sub(provider / "emulator-dist" / "pyproject.toml", r'^version = "[^"]*"$', f'version = "{version}"')
    _sub(provider / "emulator-dist" / "pyproject.toml", r'"pulumi-copyai==[^"]*"', f'"pulumi-copyai=={version}"')
    _sub(provider / "pulumi_copyai" / "__init__.py", r'^__version__ = "[^"]*"$', f'__version__ = "{version}"')
    _sub(provider / SCHEMA, r'^  "version": "[^"]*",$', f'  "version": "{version}",')


def source_version() -> str:
    match = re.search(r'^__version__ = "([^"]*)"$', (ROOT / "provider" / "pulumi_copyai" / "__init__.py").read_text(),
                      re.M)
    assert match
    return match.group(1)


def patch_schema(path: Path, settings: dict[str, str]) -> dict[str, object]:
    schema = json.loads(path.read_text())
    schema["version"] = settings["version"]
    schema["pluginDownloadURL"] = settings["plugin_download_url"]
    schema["repository"] = schema["homepage"] = settings["repository_url"]
    if settings.get("logo_url"):
        schema["logoUrl"] = settings["logo_url"]
    schema["language"]["go"]["importBasePath"] = settings["go_module"] + "/copyai"
    schema["language"]["nodejs"]["packageName"] = settings["npm_package"]
    path.write_text(json.dumps(schema, indent=2) + "\n")
    return dict(schema)


def settings_from(args: argparse.Namespace) -> dict[str, str]:
    schema = json.loads((ROOT / "provider" / SCHEMA).read_text())
    version = args.version or source_version()
    if not VERSION_RE.match(version):
        raise SystemExit(f"--version {version}: expected X.Y.Z")
    if args.repository:
        repo = args.repository.removeprefix("https://").rstrip("/")
        repository_url = f"https://{repo}"
        host, _, path = repo.partition("/")
        download = f"https://{repo}/releases/download/v${{VERSION}}"
        logo = f"https://raw.githubusercontent.com/{path}/main/docs/logo.svg" if host == "github.com" else ""
        go_module = f"{repo}/sdk/go"
    else:
        repository_url = schema["repository"]
        download = schema["pluginDownloadURL"]
        logo = schema.get("logoUrl", "")
        go_module = schema["language"]["go"]["importBasePath"].rsplit("/", 1)[0]
    go_module = (args.go_module or go_module).rstrip("/")
    major = int(version.split(".")[0])
    if major >= 2 and not go_module.endswith(f"/v{major}"):
        raise SystemExit(f"version {version}: a Go module at major version {major} needs a path ending in /v{major} "
                         f"(e.g. --go-module {go_module}/v{major}); {go_module} would not resolve with `go get`")
    return {
        "version": version,
        "repository_url": repository_url,
        "plugin_download_url": args.plugin_download_url or download,
        "logo_url": logo,
        "go_module": go_module,
        "npm_package": args.npm_package or schema["language"]["nodejs"]["packageName"],
    }


# -- the build ------------------------------------------------------------------------------------
def _run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, text=True, capture_output=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def _copy_sources(stage: Path) -> Path:
    provider = stage / "provider"
    shutil.copytree(ROOT / "provider", provider,
                    ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.pyc"))
    return provider


def _emulator_tree(provider: Path, stage: Path) -> Path:
    """The emulator's distribution in the standard layout (an sdist cannot reach ../pulumi_copyai)."""
    tree = stage / "emulator"
    tree.mkdir()
    text = (provider / "emulator-dist" / "pyproject.toml").read_text()
    line = 'package-dir = {"pulumi_copyai.emulator" = "../pulumi_copyai/emulator"}\n'
    if line not in text:
        raise SystemExit("provider/emulator-dist/pyproject.toml: its package-dir line changed; update release.py")
    (tree / "pyproject.toml").write_text(text.replace(line, ""))
    shutil.copy(provider / "emulator-dist" / "README.md", tree / "README.md")
    shutil.copytree(provider / "pulumi_copyai" / "emulator", tree / "pulumi_copyai" / "emulator")
    shutil.rmtree(provider / "pulumi_copyai" / "emulator")  # the runtime package's copy: built without it
    return tree


def _python_dists(project: Path, out: Path) -> list[Path]:
    before = set(out.iterdir())
    _run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out), str(project)])
    return sorted(set(out.iterdir()) - before)


def build(args: argparse.Namespace) -> None:
    started = time.monotonic()
    settings = settings_from(args)
    version = settings["version"]
    names = args.platforms.split(",") if args.platforms else list(PLATFORMS)
    unknown = set(names) - set(PLATFORMS)
    if unknown:
        raise SystemExit(f"--platforms: unknown {sorted(unknown)} (known: {', '.join(PLATFORMS)})")
    out = Path(args.out).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    log(f"copyai v{version} into {out}: plugin download URL {settings['plugin_download_url']}, "
        f"Go module {settings['go_module']}, npm {settings['npm_package']}")
    steps: dict[str, float] = {}

    def step(name: str, t0: float) -> None:
        steps[name] = round(time.monotonic() - t0, 1)
        log(f"{name}: {steps[name]} s")

    with tempfile.TemporaryDirectory(prefix="copyai-release-") as tmp:
        stage = Path(tmp)
        t0 = time.monotonic()
        provider = _copy_sources(stage)
        set_versions(provider, version)
        schema = patch_schema(provider / SCHEMA, settings)
        emulator = _emulator_tree(provider, stage)
        runtime = _python_dists(provider, out)
        _python_dists(emulator, out)
        step("python packages", t0)

        t0 = time.monotonic()
        gen = _run([str(ROOT / "scripts" / "gen-sdk.sh"), "--binary"]).strip().splitlines()[-1]
        _run([gen, "-schema", str(provider / SCHEMA), "-out", str(stage / "sdk"), "-lang", "nodejs,python,go"])
        _python_dists(stage / "sdk" / "python", out)
        step("SDKs generated, Python SDK packaged", t0)

        t0 = time.monotonic()
        npm = _run([str(ROOT / "tools" / "npm-pack.sh"), str(out), str(stage / "sdk" / "nodejs")]).strip()
        step("npm package", t0)

        t0 = time.monotonic()
        gomodule.write_proxy(stage / "sdk" / "go", version, out / "goproxy")
        step("Go module", t0)

        t0 = time.monotonic()
        wheel = next(p for p in runtime if p.name.endswith(".whl"))
        archives = plugin.build_archives(wheel, version, out, names)
        step(f"plugin archives ({len(archives)})", t0)

        t0 = time.monotonic()
        problems = [problem for archive in archives for problem in verify.check_archive(str(archive))]
        if problems:
            raise SystemExit("the plugin archives do not pass tools/release/verify.py:\n" + "\n".join(problems))
        step("archives verified", t0)

    checksums = out / f"pulumi-copyai-v{version}-checksums.txt"
    files = sorted(p for p in out.rglob("*") if p.is_file())
    checksums.write_text("".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}\n"
                                 for p in files))
    (out / "release.json").write_text(json.dumps({
        "version": version, **settings,
        "go_module_zip": f"goproxy/{gomodule.escape(settings['go_module'])}/@v/v{version}.zip",
        "npm_tarball": Path(npm).name,
        "archives": {a.name: a.stat().st_size for a in archives},
        "pythons": list(PYTHONS),
        "python_dists": sorted(p.name for p in out.iterdir()
                               if p.suffix in (".whl", ".gz") and not p.name.startswith("pulumi-resource-")),
        "schema_keywords": schema.get("keywords"),
        "build_seconds": steps,
    }, indent=1) + "\n")
    for path in sorted(out.iterdir()):
        if path.is_file():
            log(f"  {path.stat().st_size / 1e6:8.2f} MB  {path.name}")
    log(f"  goproxy/ ({settings['go_module']} v{version})")
    log(f"done in {time.monotonic() - started:.0f} s: {out}")


# -- lock -----------------------------------------------------------------------------------------
def lock(_args: argparse.Namespace) -> None:
    """Resolve the plugin's requirements for every platform and Python, constrained to the versions
    installed in .venv (what `make test` runs), and pin the result in plugin-constraints.txt."""
    from packaging.utils import canonicalize_name

    freeze = _run([sys.executable, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"])
    versions: dict[str, dict[str, set[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "requirements.txt").write_text("\n".join(plugin.runtime_requirements()) + "\n")
        (Path(tmp) / "venv.txt").write_text(freeze)
        for platform in PLATFORMS.values():
            for python in PYTHONS:
                log(f"resolving for {platform.name}, CPython {python}")
                report = Path(tmp) / "report.json"
                _run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                      "--disable-pip-version-check", "--report", str(report), "--target", str(Path(tmp) / "t"),
                      "-r", str(Path(tmp) / "requirements.txt"), "-c", str(Path(tmp) / "venv.txt"),
                      *plugin.pip_target_args(platform, python)])
                for item in json.loads(report.read_text())["install"]:
                    name = canonicalize_name(item["metadata"]["name"])
                    versions.setdefault(name, {}).setdefault(item["metadata"]["version"], set()).add(python)
    lines = ["# The plugin archives' packages, pinned (every platform, CPython 3.10-3.13): pip download's constraints.",
             "# Generated by `python tools/release/release.py lock` (`make release-lock`) from the pins of",
             "# requirements-dev.txt and the versions installed in .venv; do not edit by hand."]
    for dist in sorted(versions):
        if len(versions[dist]) == 1:
            lines.append(f"{dist}=={next(iter(versions[dist]))}")
        else:
            for ver, pythons in sorted(versions[dist].items()):
                marker = " or ".join(f'python_version == "{p}"' for p in sorted(pythons))
                lines.append(f"{dist}=={ver}; {marker}")
    plugin.CONSTRAINTS.write_text("\n".join(lines) + "\n")
    log(f"wrote {plugin.CONSTRAINTS} ({len(versions)} packages)")


def set_version(args: argparse.Namespace) -> None:
    if not VERSION_RE.match(args.new_version):
        raise SystemExit(f"{args.new_version}: expected X.Y.Z")
    set_versions(ROOT / "provider", args.new_version)
    log(f"version {args.new_version} written into provider/; now run `make sdk` (the SDKs carry the version)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build every release artifact into --out")
    b.add_argument("--version", help="X.Y.Z (default: the sources' version)")
    b.add_argument("--out", default=str(ROOT / "dist"))
    b.add_argument("--repository", help="github.com/ORG/REPO: repository, download URL and Go module follow it")
    b.add_argument("--plugin-download-url", help="where the engine downloads the plugin archives from; "
                   "${VERSION}, ${OS}, ${ARCH} are substituted by the engine")
    b.add_argument("--go-module", help="the Go SDK's module path (its package is <module>/copyai)")
    b.add_argument("--npm-package", help="the TypeScript SDK's npm package name")
    b.add_argument("--platforms", help=f"comma-separated, default all: {','.join(PLATFORMS)}")
    b.set_defaults(func=build)
    sub.add_parser("lock", help="re-pin plugin-constraints.txt").set_defaults(func=lock)
    v = sub.add_parser("set-version", help="write a new version into the sources")
    v.add_argument("new_version")
    v.set_defaults(func=set_version)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
