"""What `pulumi up`, `refresh` and `destroy` of N webhooks cost at real API latency, for both front doors.

    python bench/bench.py [--publish] [--reps 2] [--sizes 50 200] [--latencies 0 0.1 0.3]
                          [--parallel default 32] [--out DIR] [--replot RESULTS_JSON]

Through the `pulumi` CLI, on one project directory per provider (each with its own file backend and
PULUMI_HOME in a temporary directory), against the local emulator, whose `latency` fault delays every
API request (one emulator per front door, so a refresh lists only its own webhooks):

- **floor**: a Python program of N no-I/O dynamic resources (baselines.py): the engine's own cost;
- **dynamic**: a Python program of N `CopyAIWebhook` (the dynamic provider, at most 4 calls at once);
- **yaml-floor**: the plugin's YAML program, served by a no-I/O copy of the plugin (floor_plugin.py);
- **plugin**: a Pulumi YAML program of N `copyai:index:Webhook` (the `copyai` plugin).

For each latency, N and `--parallel` (the engine's default and 32), in interleaved repetitions (each
operation for every provider in turn): `up`, `refresh` and `destroy`, plus `preview` at 0 ms and the
default parallelism. The floors make no API call, so they run at 0 ms only. Once per run, at the
largest N, a few webhooks are deleted outside Pulumi before a `refresh` (and the next `up` registers
them again). Reports median times beside the **ideal** (the front door's floor + ceil(N / parallelism)
x latency; for `refresh`, which reads the list 100 webhooks a page, the floor + ceil(N / 100) x
latency), API calls per operation and the most requests in flight at once (from the emulator's request
log), the CPU time of the whole command tree, state bytes per resource, and the goals of issue 12.
Writes results.md, results.json and latency.png into --out: bench/out/ (ignored by git) by default,
the committed bench/results/ with --publish.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from projects import KINDS, Project  # noqa: E402

from pulumi_copyai.emulator.testing import Emulator  # noqa: E402

OPS = ("up", "preview", "refresh", "destroy")
#: The front doors and the floor each is measured against.
FLOOR_OF = {"dynamic": "floor", "plugin": "yaml-floor"}
DOORS = tuple(FLOOR_OF)
DEFAULT = "default"
#: `refresh` runs this many times per repetition at 0 ms.
REFRESH_SAMPLES_AT_0 = 2
#: Once per run: refresh after this many webhooks were deleted outside Pulumi.
DRIFT, DRIFTED, REDO = "refresh-drift", 5, "up-after-drift"
#: Goals of issue 12: (front door, op, latency, N, parallel, limit, against): time <= limit x `against`.
GOALS = (
    ("plugin", "up", 0.3, 200, 32, 1.5, "ideal"),
    ("plugin", "destroy", 0.3, 200, 32, 1.5, "ideal"),
    ("plugin", "refresh", 0.0, 200, DEFAULT, 1.10, "floor"),
    ("dynamic", "refresh", 0.0, 200, DEFAULT, 1.10, "floor"),
)


def engine_default_parallel() -> int:
    """The CLI's default --parallel, as `pulumi up --help` states it."""
    text = subprocess.run(["pulumi", "up", "--help"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"--parallel int32 .*\(default (\d+)\)", text)
    return int(match.group(1)) if match else 4 * (os.cpu_count() or 1)


def api_calls(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Calls by kind ("list" = GET /webhook, "GET" = GET /webhook/<id>, POST, DELETE) and the most in flight at once."""
    counts: dict[str, int] = {}
    for r in requests:
        name = r["method"]
        if name == "GET":
            name = "list" if r["path"].rstrip("/") == "/api/webhook" else "GET"
        counts[name] = counts.get(name, 0) + 1
    edges = sorted([(r["started"], 1) for r in requests] + [(r["started"] + r["duration"], -1) for r in requests])
    peak = cur = 0
    for _, step in edges:
        cur += step
        peak = max(peak, cur)
    return {"counts": counts, "peak": peak}


class Bench:
    def __init__(self, args: argparse.Namespace, default_parallel: int | None = None) -> None:
        self.args = args
        self.default_parallel = default_parallel or engine_default_parallel()
        self.parallels: list[Any] = [DEFAULT if p == DEFAULT else int(p) for p in args.parallel]
        # samples[(kind, latency, n, parallel, op)] = [{"seconds", "cpu", "counts", "peak", "api_span"}, ...]
        self.samples: dict[tuple[str, float, int, Any, str], list[dict[str, Any]]] = {}
        self.state_bytes: dict[tuple[str, int], float] = {}
        self.emulator_check = ""

    def p(self, parallel: Any) -> int:
        return self.default_parallel if parallel == DEFAULT else int(parallel)

    def label(self, parallel: Any) -> str:
        return f"{self.default_parallel} (default)" if parallel == DEFAULT else str(parallel)

    # -- running --------------------------------------------------------------------------
    def ops(self, latency: float, parallel: Any, n: int, rep: int) -> list[str]:
        """`preview` at 0 ms and the default parallelism only; at 0 ms `refresh` twice (cheap, and its
        goal is a tight ratio); once per run, at N = the largest size, a refresh after DRIFTED webhooks
        were deleted outside Pulumi (the front doors only)."""
        ops = ["up"]
        if latency == 0 and parallel == DEFAULT:
            ops.append("preview")
        ops += ["refresh"] * (REFRESH_SAMPLES_AT_0 if latency == 0 else 1)
        if rep == 0 and latency == 0 and parallel == DEFAULT and n == max(self.args.sizes):
            ops += [DRIFT, REDO]
        return ops + ["destroy"]

    def one(self, emu: Emulator, project: Project, latency: float, parallel: Any, op: str) -> dict[str, Any]:
        gone: list[str] = []
        if op == DRIFT:  # someone deletes a few webhooks at Copy.ai, then `pulumi refresh`
            gone = sorted(h["id"] for h in emu.webhooks())[:DRIFTED]
            for webhook_id in gone:
                emu.api("DELETE", f"/webhook/{webhook_id}").raise_for_status()
        emu.clear_requests()
        started = time.time()
        plain = {DRIFT: "refresh", REDO: "up"}.get(op, op)
        timed = project.op(plain, None if parallel == DEFAULT else int(parallel))
        requests = emu.requests()
        calls = api_calls(requests)
        span = (max(r["started"] + r["duration"] for r in requests) - min(r["started"] for r in requests)
                if requests else 0.0)
        sample = {"seconds": timed.seconds, "cpu": timed.cpu, **calls, "api_span": span,
                  "api_start": min((r["started"] for r in requests), default=started) - started}
        if op == DRIFT:
            kept = {r["id"] for r in project.resources()}
            sample["dropped_exactly_the_deleted"] = not (kept & set(gone)) and len(kept) == project.n - len(gone)
        expected = {"up": ("POST", project.n), "destroy": ("DELETE", project.n), REDO: ("POST", DRIFTED)}.get(op)
        if project.kind in DOORS and expected and calls["counts"].get(expected[0]) != expected[1]:
            raise RuntimeError(f"{project.kind} N={project.n} {op}: expected {expected[1]} {expected[0]}, "
                               f"got {calls['counts']}")
        if op == "up" and (project.kind, project.n) not in self.state_bytes:
            found = project.resources()
            assert len(found) == project.n, (project.kind, len(found))
            self.state_bytes[(project.kind, project.n)] = sum(len(json.dumps(r)) for r in found) / len(found)
        return sample

    def check_emulator(self, emu: Emulator, latency: float, concurrent: int) -> str:
        """`concurrent` GETs at once against `latency`: the emulator must serve them side by side."""
        from concurrent.futures import ThreadPoolExecutor

        import requests

        emu.arm("latency", seconds=latency, probability=1.0)
        with requests.Session() as http:
            http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrent))
            headers = {"x-copy-ai-api-key": emu.api_key}

            def get(_: int) -> int:
                return http.get(f"{emu.base_url}/webhook", params={"page": 0, "size": 1}, headers=headers,
                                timeout=30).status_code

            with ThreadPoolExecutor(concurrent) as pool:
                list(pool.map(get, range(concurrent)))  # warm the connections
                emu.clear_requests()
                started = time.perf_counter()
                statuses = list(pool.map(get, range(concurrent)))
                took = time.perf_counter() - started
        peak = api_calls(emu.requests())["peak"]
        emu.disarm()
        emu.clear_requests()
        assert statuses == [200] * concurrent, statuses
        return (f"{concurrent} concurrent requests at {latency * 1000:.0f} ms each took {took:.2f} s in all "
                f"({peak} in flight at once; one after the other would take {concurrent * latency:.1f} s)")

    def run(self) -> float:
        args = self.args
        started = time.perf_counter()
        with Emulator(api_key="bench-key", run_seconds=0.1) as emu_dyn, \
                Emulator(api_key="bench-key", run_seconds=0.1) as emu_plugin, \
                tempfile.TemporaryDirectory() as tmp:
            # One API per front door, so each refresh lists only its own webhooks.
            emus = {"floor": emu_dyn, "dynamic": emu_dyn, "yaml-floor": emu_plugin, "plugin": emu_plugin}
            self.emulator_check = self.check_emulator(emu_plugin, max(args.latencies), max(
                self.p(p) for p in self.parallels))
            print(f"emulator: {self.emulator_check}", flush=True)
            projects = {(kind, n): Project(Path(tmp), kind, n, emus[kind].env()) for kind in KINDS for n in args.sizes}
            for rep in range(args.reps):
                for latency in args.latencies:
                    for emu in (emu_dyn, emu_plugin):
                        emu.disarm()
                        if latency > 0:
                            emu.arm("latency", seconds=latency, probability=1.0)
                    kinds = KINDS if latency == 0 else DOORS  # the floors make no API call
                    for n in args.sizes:
                        for parallel in self.parallels:
                            # each op for every kind in turn (a front door right after its floor), so
                            # drift in the machine's load hits every kind alike
                            line: dict[str, list[str]] = {k: [] for k in kinds}
                            for op in self.ops(latency, parallel, n, rep):
                                for kind in kinds:
                                    if op in (DRIFT, REDO) and kind not in DOORS:
                                        continue
                                    sample = self.one(emus[kind], projects[(kind, n)], latency, parallel, op)
                                    self.samples.setdefault((kind, latency, n, parallel, op), []).append(sample)
                                    line[kind].append(f"{op} {sample['seconds']:.2f}s")
                            for kind in kinds:
                                print(f"rep {rep + 1}/{args.reps} {latency * 1000:.0f} ms N={n} "
                                      f"--parallel {self.label(parallel)} {kind}: " + ", ".join(line[kind])
                                      + f"  [{time.perf_counter() - started:.0f}s]", flush=True)
            for emu in (emu_dyn, emu_plugin):
                emu.disarm()
        return time.perf_counter() - started

    # -- numbers --------------------------------------------------------------------------
    def median(self, kind: str, latency: float, n: int, parallel: Any, op: str, key: str = "seconds") -> float:
        found = self.samples.get((kind, 0.0 if kind not in DOORS else latency, n, parallel, op), [])
        return statistics.median(s[key] for s in found) if found else math.nan

    def floor(self, door: str, n: int, parallel: Any, op: str) -> float:
        return self.median(FLOOR_OF[door], 0.0, n, parallel, op)

    def ideal(self, door: str, latency: float, n: int, parallel: Any, op: str) -> float:
        rounds = math.ceil(n / 100) if op == "refresh" else math.ceil(n / self.p(parallel))
        return self.floor(door, n, parallel, op) + rounds * latency

    def calls(self, kind: str, latency: float, n: int, parallel: Any, op: str) -> str:
        found = self.samples.get((kind, latency, n, parallel, op))
        if not found:
            return "-"
        counts = found[-1]["counts"]
        if op in ("refresh", DRIFT):
            return f"{counts.get('list', 0)} list + {counts.get('GET', 0)} GET" + "".join(
                f" + {v} {k}" for k, v in counts.items() if k not in ("list", "GET"))
        return ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "0"

    def peak(self, kind: str, latency: float, n: int, parallel: Any, op: str) -> int:
        return max((s["peak"] for s in self.samples.get((kind, latency, n, parallel, op), [])), default=0)

    # -- report ---------------------------------------------------------------------------
    def table_0ms(self) -> str:
        lines = [
            f"At 0 ms, `--parallel` {self.label(DEFAULT)}:",
            "",
            "| N | op | floor (s) | dynamic (s) | dynamic/floor | YAML floor (s) | plugin (s) | plugin/YAML floor "
            "| API calls (both) | CPU floor / dynamic / YAML floor / plugin (s) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for n in self.args.sizes:
            for op in OPS:
                t = {k: self.median(k, 0.0, n, DEFAULT, op) for k in KINDS}
                cpu = " / ".join(f"{self.median(k, 0.0, n, DEFAULT, op, 'cpu'):.1f}" for k in KINDS)
                calls = {self.calls(d, 0.0, n, DEFAULT, op) for d in DOORS}
                lines.append(
                    f"| {n} | {op} | {t['floor']:.2f} | {t['dynamic']:.2f} | {t['dynamic'] / t['floor']:.2f} "
                    f"| {t['yaml-floor']:.2f} | {t['plugin']:.2f} | {t['plugin'] / t['yaml-floor']:.2f} "
                    f"| {' / '.join(sorted(calls))} | {cpu} |")
        lines += ["", "| N | state bytes/resource: floor | dynamic | YAML floor | plugin |", "|---|---|---|---|---|"]
        for n in self.args.sizes:
            lines.append(f"| {n} | " + " | ".join(f"{self.state_bytes.get((k, n), math.nan):.0f}" for k in KINDS)
                         + " |")
        return "\n".join(lines)

    def table_latency(self) -> str:
        lines = [
            "| latency | N | --parallel | op | dynamic (s) | ideal (s) | dynamic/ideal | peak in flight "
            "| plugin (s) | ideal (s) | plugin/ideal | peak in flight |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for latency in self.args.latencies:
            for n in self.args.sizes:
                for parallel in self.parallels:
                    for op in ("up", "refresh", "destroy"):
                        cells = []
                        for door in DOORS:
                            t = self.median(door, latency, n, parallel, op)
                            ideal = self.ideal(door, latency, n, parallel, op)
                            cells.append(f"{t:.2f} | {ideal:.2f} | {t / ideal:.2f} "
                                         f"| {self.peak(door, latency, n, parallel, op)}")
                        lines.append(f"| {latency * 1000:.0f} ms | {n} | {self.label(parallel)} | {op} | "
                                     + " | ".join(cells) + " |")
        return "\n".join(lines)

    def goals(self) -> list[tuple[str, bool]]:
        out = []
        for door, op, latency, n, parallel, limit, against in GOALS:
            if latency not in self.args.latencies or n not in self.args.sizes or parallel not in self.parallels:
                continue
            t = self.median(door, latency, n, parallel, op)
            base = (self.ideal(door, latency, n, parallel, op) if against == "ideal"
                    else self.floor(door, n, parallel, op))
            ratio = t / base
            ok = ratio <= limit
            out.append((f"{door} `{op}`, N={n}, {latency * 1000:.0f} ms, --parallel {self.label(parallel)}: "
                        f"{t:.2f} s against {against} {base:.2f} s = {ratio:.3f}x (goal <= {limit:.2f}x): "
                        + ("met" if ok else "MISSED"), ok))
        return out

    def drift(self) -> str:
        n = max(self.args.sizes)
        parts = []
        for door in DOORS:
            found = self.samples.get((door, 0.0, n, DEFAULT, DRIFT))
            if found:
                exact = found[-1].get("dropped_exactly_the_deleted")
                ok = "dropped exactly those" if exact else "DID NOT drop exactly those"
                parts.append(f"{door} {self.calls(door, 0.0, n, DEFAULT, DRIFT)} in {found[-1]['seconds']:.2f} s, "
                             f"{ok} {DRIFTED} from the state; the next `up`: "
                             f"{self.calls(door, 0.0, n, DEFAULT, REDO)}")
        return (f"`refresh` after {DRIFTED} of {n} webhooks were deleted outside Pulumi (0 ms): " + "; ".join(parts)
                + ".") if parts else ""

    def report(self, machine: str, total: float) -> str:
        a = self.args
        header = (f"Machine: {machine}. Medians of {a.reps} runs ({a.reps * REFRESH_SAMPLES_AT_0} for `refresh` at "
                  f"0 ms); `--parallel` default is {self.default_parallel} here (4 x cores). Total bench time "
                  f"{total:.0f} s. Emulator check: {self.emulator_check}.")
        goals = "\n".join(f"- {text}" for text, _ in self.goals())
        return (f"{header}\n\n{self.table_0ms()}\n\n{self.drift()}\n\nAt API latency (every request delayed by the "
                f"emulator); ideal = the front door's floor + ceil(N / parallelism) x latency (refresh: + ceil(N / "
                f"100) x latency, the list pages); peak in flight = the most API requests under way at once:\n\n"
                f"{self.table_latency()}\n\nGoals (issue 12):\n\n{goals}\n")

    def chart(self, path: Path, machine: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ops = ("up", "refresh", "destroy")
        sizes, lats = self.args.sizes, self.args.latencies
        height = 3.6 * len(sizes) + 0.6
        fig, axes = plt.subplots(len(sizes), len(ops), figsize=(5 * len(ops), height), squeeze=False)
        colors = {"dynamic": "tab:orange", "plugin": "tab:blue"}
        styles = {DEFAULT: ("o", "-"), **{p: ("s", "--") for p in self.parallels if p != DEFAULT}}
        ms = [x * 1000 for x in lats]
        for row, n in enumerate(sizes):
            for col, op in enumerate(ops):
                ax = axes[row][col]
                for door in DOORS:
                    for parallel in self.parallels:
                        marker, line = styles[parallel]
                        ax.plot(ms, [self.median(door, x, n, parallel, op) for x in lats], marker=marker,
                                linestyle=line, color=colors[door],
                                label=f"{door}, --parallel {self.label(parallel)}")
                for door, color in (("dynamic", "navajowhite"), ("plugin", "lightsteelblue")):
                    for parallel in self.parallels:
                        ax.plot(ms, [self.ideal(door, x, n, parallel, op) for x in lats], linestyle=":",
                                color=color, marker=styles[parallel][0], markersize=3,
                                label=f"ideal for {door} ({FLOOR_OF[door]}), --parallel {self.label(parallel)}")
                ax.set_title(f"pulumi {op}, N = {n}")
                ax.set_xlabel("API latency per request (ms)")
                ax.set_ylabel("seconds (median)")
                ax.set_xticks(ms)
                ax.set_ylim(bottom=0)
                ax.grid(alpha=0.3)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
        fig.suptitle(f"pulumi-copyai: time against API latency (medians of {self.args.reps} runs) - {machine}",
                     fontsize=10)
        fig.tight_layout(rect=(0, 0.65 / height, 1, 1))
        fig.savefig(path, dpi=100)
        plt.close(fig)

    def to_json(self, machine: str, total: float) -> dict[str, Any]:
        return {
            "machine": machine, "total_seconds": total, "default_parallel": self.default_parallel,
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(self.args).items()},
            "emulator_check": self.emulator_check,
            "samples": [{"kind": k, "latency": lat, "n": n, "parallel": p, "op": op, "runs": r}
                        for (k, lat, n, p, op), r in self.samples.items()],
            "state_bytes_per_resource": [{"kind": k, "n": n, "bytes": b} for (k, n), b in self.state_bytes.items()],
            "goals": [{"text": t, "met": ok} for t, ok in self.goals()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], args: argparse.Namespace) -> tuple[Bench, str, float]:
        """A Bench holding the samples of a results.json (its run's sizes, latencies, parallelism, reps)."""
        for key in ("reps", "sizes", "latencies", "parallel"):
            setattr(args, key, data["args"][key])
        bench = cls(args, default_parallel=data["default_parallel"])
        bench.emulator_check = data.get("emulator_check", "")
        for s in data["samples"]:
            bench.samples[(s["kind"], s["latency"], s["n"], s["parallel"], s["op"])] = s["runs"]
        for b in data["state_bytes_per_resource"]:
            bench.state_bytes[(b["kind"], b["n"])] = b["bytes"]
        return bench, data["machine"], data["total_seconds"]


def parse(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.0, 0.1, 0.3], help="seconds")
    parser.add_argument("--parallel", nargs="+", default=[DEFAULT, "32"], help="'default' or a number")
    parser.add_argument("--publish", action="store_true", help="write the committed bench/results/")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/out (bench/results with --publish)")
    parser.add_argument("--replot", type=Path, default=None, metavar="RESULTS_JSON",
                        help="rewrite results.md and latency.png from a results.json, without running anything")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if 0.0 not in args.latencies:
        parser.error("--latencies must include 0 (the floors, preview and the 0 ms table)")
    if DEFAULT not in args.parallel:
        parser.error("--parallel must include 'default'")
    args.out = args.out or HERE / ("results" if args.publish else "out")
    return args


def main() -> None:
    args = parse()
    # Started in the background (`make bench &`, nohup, CI), this process may have inherited SIGINT
    # ignored, and so would every `pulumi` it starts and their plugins: the engine stops a plugin with
    # SIGINT, waits about 5 s for it to exit, then kills it, which added 5 s to every Python `up` and
    # `preview`. A handler of our own is reset to the default in each child.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.out.mkdir(parents=True, exist_ok=True)
    version = subprocess.run(["pulumi", "version"], capture_output=True, text=True).stdout.strip()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, pulumi {version}"
    if args.replot:
        bench, machine, total = Bench.from_json(json.loads(args.replot.read_text()), args)
    else:
        bench = Bench(args)
        total = bench.run()
    text = bench.report(machine, total)
    print("\n" + text)
    if not args.replot:
        (args.out / "results.json").write_text(json.dumps(bench.to_json(machine, total), indent=1))
    (args.out / "results.md").write_text(text)
    bench.chart(args.out / "latency.png", machine)
    stale = args.out / "bench.png"  # the time-against-N chart of the previous benchmark
    if stale.exists():
        stale.unlink()
    print(f"\nwrote {args.out / 'results.md'} and {args.out / 'latency.png'} in {total:.0f} s")


if __name__ == "__main__":
    main()
