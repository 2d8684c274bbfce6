"""Start the copyai provider plugin from a plugin archive: the engine runs `pulumi-resource-copyai`
(a shell script, or a .cmd on Windows), which finds a CPython 3.10 to 3.13 and runs this file with it
(`python -I -S launcher.py <engine address>`).

The archive holds the plugin's Python packages already unpacked, for its platform:

    lib/common/   the packages every supported Python shares (pure Python, or the stable ABI abi3)
    lib/cp3XY/    the packages built for CPython 3.X.Y's ABI (grpcio, pyyaml, ...)
    lib/manifest.json   which wheels went where (tools/release/verify.py checks it)

so a start needs no network, no pip, no venv: this file puts lib/cp3XY and lib/common first on
sys.path (-S leaves the interpreter's own site-packages out, -I the user's environment) and serves.
Python writes the bytecode cache next to the sources on the first start (safely, when several plugin
processes start at once: each .pyc is written aside and renamed); when the plugin directory is not
writable, it goes to the user's cache directory instead.

`launcher.py --probe` prints this interpreter's path and exits 0 if it can run the plugin, else 1:
the shell and .cmd launchers use it to pick an interpreter. Keep this file valid Python 2 syntax up
to the version check, so that an old `python` answers the probe instead of failing to parse it.
"""
# ruff: noqa: UP031  (%-formatting: an old Python must still parse this file and answer the probe)

import os
import sys

SUPPORTED = ((3, 10), (3, 11), (3, 12), (3, 13))


def _tag():
    return "cp%d%d" % sys.version_info[:2]


def _lib():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")


def _usable():
    return (getattr(sys, "implementation", None) is not None and sys.implementation.name == "cpython"
            and tuple(sys.version_info[:2]) in SUPPORTED and os.path.isdir(os.path.join(_lib(), _tag())))


def _cache_dir():
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "pulumi-copyai", "pycache")


def main():
    if sys.argv[1:] == ["--probe"]:
        if _usable():
            sys.stdout.write(sys.executable + "\n")
            sys.exit(0)
        sys.exit(1)
    if not _usable():
        sys.stderr.write(
            "pulumi-resource-copyai: %s is Python %s (%s); the plugin needs CPython 3.10, 3.11, 3.12 or 3.13. "
            "Install one, or set PULUMI_COPYAI_PYTHON to its path.\n"
            % (sys.executable, sys.version.split()[0], getattr(getattr(sys, "implementation", None), "name", "?")))
        sys.exit(1)
    lib = _lib()
    if not os.access(lib, os.W_OK):
        sys.pycache_prefix = _cache_dir()
    sys.path[0:0] = [os.path.join(lib, _tag()), os.path.join(lib, "common")]
    try:
        from pulumi_copyai.plugin.server import main as serve
    except ImportError as exc:
        import platform

        sys.stderr.write(
            "pulumi-resource-copyai: %s (Python %s on %s %s) cannot load the plugin's compiled modules from %s: "
            "%s. Is this archive the one for this machine's OS and CPU, and is the Python a native one "
            "(not, say, an x86_64 Python under Rosetta on an arm64 Mac)? PULUMI_COPYAI_PYTHON picks another.\n"
            % (sys.executable, sys.version.split()[0], platform.system(), platform.machine(), lib, exc))
        sys.exit(1)
    serve()


if __name__ == "__main__":
    main()
