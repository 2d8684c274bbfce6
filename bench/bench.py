"""What `pulumi up` costs with CopyAIWebhook, against the engine floor and a naive provider.

    python bench/bench.py [--sizes 10 50 200] [--reps 3] [--out bench/results]

For each provider and N webhooks, through the real engine (Automation API, file backend) against the
local emulator: times `up`, `preview` (no changes), `refresh` and `destroy` (median of --reps runs),
counts API calls per operation from the emulator's request log, state bytes per resource
(`pulumi stack export`) and the dynamic-provider process's CPU time. Writes results.json, a
markdown table and bench.png (time against N) into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import runpy
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulumi import automation as auto

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from baselines import FloorWebhook  # noqa: E402

from pulumi_copyai import CopyAIWebhook  # noqa: E402
from pulumi_copyai.emulator.testing import Emulator  # noqa: E402

OPS = ("up", "preview", "refresh", "destroy")


def naive_webhook(name: str, url: str, event_type: str) -> Any:
    """Runs naive_program.py as `__main__`, the way a user's stack defines such a provider."""
    namespace = runpy.run_path(str(HERE / "naive_program.py"), run_name="__main__")
    return namespace["NaiveWebhook"](name, url, event_type)


PROVIDERS: dict[str, Callable[[str, str, str], Any]] = {
    "ours": lambda n, u, e: CopyAIWebhook(n, url=u, event_type=e),
    "floor": lambda n, u, e: FloorWebhook(n, u, e),
    "naive": naive_webhook,
}


class ProviderCPU:
    """Samples the CPU time of `python -m pulumi.dynamic` processes while an operation runs."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in self._before:
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"pulumi.dynamic" not in cmd:
                    continue
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                self.seen[int(pid)] = (int(fields[11]) + int(fields[12])) / self._tick
            except OSError:
                continue

    def __enter__(self) -> ProviderCPU:
        self._before: set[int] = set()
        self._sample()
        self._before, self.seen = set(self.seen), {}

        def loop() -> None:
            while not self._stop.wait(0.02):
                self._sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


# pulumi's serialize_provider wraps pickle._Pickler._batch_setitems again on every call and never
# restores it; in one long-lived bench process that chain would grow across runs. Each program run
# starts from the original, as a fresh `pulumi up` process would.
_ORIGINAL_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


def run_cycle(kind: str, n: int, emu: Emulator, work: Path) -> dict[str, Any]:
    def program() -> None:
        pickle._Pickler._batch_setitems = _ORIGINAL_BATCH_SETITEMS  # type: ignore[attr-defined]
        for i in range(n):
            PROVIDERS[kind](f"hook-{i:03d}", f"https://hooks.example.com/{kind}/{i}", "workflowRun.completed")

    env = {
        "PULUMI_BACKEND_URL": f"file://{work / '.state'}",
        "PULUMI_CONFIG_PASSPHRASE": "bench",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        **emu.env(),
    }
    (work / ".state").mkdir(parents=True)
    opts = auto.LocalWorkspaceOptions(work_dir=str(work), env_vars=env,
                                      project_settings=auto.ProjectSettings(name="bench", runtime="python"))
    stack = auto.create_or_select_stack("bench", project_name="bench", program=program, opts=opts)
    result: dict[str, Any] = {"seconds": {}, "calls": {}, "cpu": {}}
    for op in OPS:
        emu.clear_requests()
        with ProviderCPU() as cpu:
            started = time.perf_counter()
            if op == "up":
                stack.up()
            elif op == "preview":
                stack.preview(expect_no_changes=True)
            elif op == "refresh":
                stack.refresh()
            else:
                stack.destroy()
            result["seconds"][op] = time.perf_counter() - started
        result["cpu"][op] = cpu.seconds
        counts: dict[str, int] = {}
        for r in emu.requests():
            counts[r["method"]] = counts.get(r["method"], 0) + 1
        result["calls"][op] = counts
        if op == "up":
            exported = subprocess.run(["pulumi", "stack", "export", "--stack", "bench"], cwd=work, text=True,
                                      capture_output=True, check=True, env={**os.environ, **env}).stdout
            resources = [r for r in json.loads(exported)["deployment"]["resources"]
                         if r["type"].startswith("pulumi-python:dynamic")]
            result["state_bytes_per_resource"] = sum(len(json.dumps(r)) for r in resources) / max(1, len(resources))
    stack.workspace.remove_stack("bench")
    return result


def median_of(runs: list[dict[str, Any]], key: str, op: str) -> float:
    return statistics.median(r[key][op] for r in runs)


def table(results: dict[str, dict[int, list[dict[str, Any]]]], sizes: list[int]) -> str:
    lines = ["| N | op | ours (s) | floor (s) | naive (s) | ours/floor | ours/naive | API calls ours | "
             "provider CPU ours / floor / naive (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for n in sizes:
        for op in OPS:
            t = {k: median_of(results[k][n], "seconds", op) for k in PROVIDERS}
            calls = results["ours"][n][-1]["calls"][op]
            call_text = ", ".join(f"{v} {m}" for m, v in sorted(calls.items())) or "0"
            lines.append(f"| {n} | {op} | {t['ours']:.2f} | {t['floor']:.2f} | {t['naive']:.2f} | "
                         f"{t['ours'] / t['floor']:.2f} | {t['ours'] / t['naive']:.2f} | {call_text} | "
                         + " / ".join(f"{median_of(results[k][n], 'cpu', op):.2f}" for k in PROVIDERS) + " |")
    lines += ["", "| N | state bytes/resource ours | floor | naive |", "|---|---|---|---|"]
    for n in sizes:
        b = {k: statistics.median(r["state_bytes_per_resource"] for r in results[k][n]) for k in PROVIDERS}
        lines.append(f"| {n} | {b['ours']:.0f} | {b['floor']:.0f} | {b['naive']:.0f} |")
    return "\n".join(lines)


def chart(results: dict[str, dict[int, list[dict[str, Any]]]], sizes: list[int], path: Path, machine: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(OPS), figsize=(16, 4.2), sharex=True)
    for ax, op in zip(axes, OPS, strict=True):
        for kind, style in (("ours", "o-"), ("floor", "s--"), ("naive", "^:")):
            ax.plot(sizes, [median_of(results[kind][n], "seconds", op) for n in sizes], style, label=kind)
        ax.set_title(f"pulumi {op}")
        ax.set_xlabel("webhooks (N)")
        ax.set_ylabel("seconds (median)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"pulumi-copyai vs engine floor vs naive provider - {machine}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, " \
              f"{subprocess.run(['pulumi', 'version'], capture_output=True, text=True).stdout.strip()}"
    results: dict[str, dict[int, list[dict[str, Any]]]] = {k: {n: [] for n in args.sizes} for k in PROVIDERS}
    started = time.perf_counter()
    with Emulator(api_key="bench-key", run_seconds=0.1) as emu, tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            for rep in range(args.reps):
                for kind in PROVIDERS:  # interleaved, so drift in the machine hits all three alike
                    res = run_cycle(kind, n, emu, Path(tmp) / f"{kind}-{n}-{rep}")
                    results[kind][n].append(res)
                    print(f"N={n} rep={rep} {kind}: " + ", ".join(f"{op} {res['seconds'][op]:.2f}s" for op in OPS),
                          flush=True)
    text = table(results, args.sizes)
    header = f"Machine: {machine}. Medians of {args.reps} runs; total bench time {time.perf_counter() - started:.0f}s."
    print("\n" + header + "\n\n" + text)
    (args.out / "results.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    (args.out / "results.md").write_text(header + "\n\n" + text + "\n")
    chart(results, args.sizes, args.out / "bench.png", machine)
    print(f"\nwrote {args.out / 'results.md'} and {args.out / 'bench.png'}")


if __name__ == "__main__":
    main()
