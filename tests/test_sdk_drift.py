"""The SDKs in sdk/ are exactly what `make sdk` generates from the plugin's schema: regenerating them
into a temporary directory gives byte-identical trees (under a second once the generator is cached;
the first build of tools/gen-sdk takes about 25 s with a warm Go module cache)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine  # runs the pulumi CLI (or builds with it): not in `make test-fast`

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("nodejs", "python", "go")


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path, leaving out what git ignores there (a local `npm install`
    or `tsc` in sdk/nodejs, Python caches)."""
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    listed = "\n".join(str(p) for p in files.values())
    ignored = subprocess.run(["git", "check-ignore", "--stdin"], cwd=ROOT, input=listed, text=True,
                             capture_output=True, check=False)
    skip = set(ignored.stdout.splitlines()) if ignored.returncode in (0, 1) else set()
    return {rel: p.read_bytes() for rel, p in files.items() if str(p) not in skip}


def test_committed_sdks_match_the_schema(tmp_path: Path) -> None:
    done = subprocess.run([str(ROOT / "scripts" / "gen-sdk.sh"), str(tmp_path)], text=True,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    for lang in LANGUAGES:
        fresh, committed = _files(tmp_path / lang), _files(ROOT / "sdk" / lang)
        assert fresh, f"gen-sdk wrote no {lang} SDK"
        missing = sorted(set(fresh) - set(committed))
        extra = sorted(set(committed) - set(fresh))
        changed = sorted(rel for rel in set(fresh) & set(committed) if fresh[rel] != committed[rel])
        assert not (missing or extra or changed), (
            f"sdk/{lang} is out of date with the schema; run `make sdk` and commit sdk/: "
            f"missing {missing}, not generated {extra}, different {changed}")


def test_sdk_packages_name_the_plugin() -> None:
    """Each SDK asks the engine for the plugin `copyai` at the schema's version, downloaded from the
    schema's pluginDownloadURL."""
    schema = json.loads((ROOT / "provider" / "pulumi_copyai" / "plugin" / "schema.json").read_text())
    expected = {"resource": True, "name": "copyai", "version": schema["version"],
                "server": schema["pluginDownloadURL"]}
    package = json.loads((ROOT / "sdk" / "nodejs" / "package.json").read_text())
    assert package["name"] == schema["language"]["nodejs"]["packageName"]
    assert package["pulumi"] == expected
    python = schema["language"]["python"]["packageName"]
    assert json.loads((ROOT / "sdk" / "python" / python / "pulumi-plugin.json").read_text()) == expected
    go_package = schema["language"]["go"]["importBasePath"].rsplit("/", 1)[1]
    assert json.loads((ROOT / "sdk" / "go" / go_package / "pulumi-plugin.json").read_text()) == expected
    # and at the module's root, where the Go language host looks (tools/gen-sdk/main.go says why)
    assert json.loads((ROOT / "sdk" / "go" / "pulumi-plugin.json").read_text()) == expected
    go_mod = (ROOT / "sdk" / "go" / "go.mod").read_text()
    assert go_mod.startswith(f"module {schema['language']['go']['importBasePath'].rsplit('/', 1)[0]}\n")
