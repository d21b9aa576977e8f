#!/usr/bin/env python3
"""The official CLAFusion code and `clafusion fuse` on the same files, alternately, several rounds.

    /usr/bin/python3 gpu-runner/bench/official/side_by_side.py --clafusion-dir DIR \
        [--pair resnet|vgg] [--samples 200] [--threads 1] [--rounds 3] [--out .out/official]

Each round runs time_official.py (which writes the pair's a.pt, b.pt and cal.npy on its first round,
the same bytes every time, and times the official stages), then our CLI with the matching flags
(README.md next to this file) on those files, each in its own process and one after the other, so
the two see the same machine. Reported per side: the stages (activations, cost, fusion, total: wall
seconds; the official side's CPU seconds beside them), the whole process's CPU seconds, wall seconds
and peak RSS, and whether the group mappings are equal. Medians over the rounds go to stdout and,
with every round, to OUT/PAIR/side-by-side.json.

Our stage times are the report's `timings` (wall-clock); with one thread on a quiet machine they
are the CPU seconds too. The process figures of our side include Node's start-up and reading the
files, which the official side's stage times do not (its model building and checkpoint loading are
outside `total` as well).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
from time_official import our_group_mappings, our_stages  # noqa: E402  (its heavy imports are inside main())

# Our flags for each pair: the paper scripts' settings, flag by flag (README.md next to this file).
COMMON = [
    "--layer-cost", "cka", "--mapping", "cla", "--first-constraint", "on", "--last-constraint", "on",
    "--balance", "add", "--fusion", "ot-activations", "--activations", "pre", "--ground-metric", "euclidean",
    "--squared", "off", "--ground-metric-normalize", "none", "--solver", "exact", "--correction", "on",
    "--past-correction", "on", "--output-layer", "align", "--seed", "0",
]
OURS = {
    "resnet": COMMON + ["--efficient-metric", "on", "--handle-skips", "on"],
    "vgg": COMMON + ["--efficient-metric", "off"],
}


def run_process(argv: list, env: dict) -> dict:
    """Runs argv to completion; its CPU seconds (user + system), wall seconds and peak RSS (wait4)."""
    with tempfile.TemporaryFile(mode="w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited with {proc.returncode}:\n{output[-4000:]}")
    return {
        "cpu": round(usage.ru_utime + usage.ru_stime, 3),
        "wall": round(wall, 3),
        "peakRssMiB": round(usage.ru_maxrss / 1024),
        "output": output,
    }


def load_avg() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clafusion-dir", required=True)
    parser.add_argument("--pair", choices=sorted(OURS), default="resnet")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(REPO, ".out", "official"))
    opts = parser.parse_args()

    out = os.path.abspath(os.path.join(opts.out, f"{opts.pair}-{opts.threads}t"))
    os.makedirs(out, exist_ok=True)
    env = {**os.environ, "RUNNER_THREADS": str(opts.threads)}
    official_cmd = [
        sys.executable, os.path.join(HERE, "time_official.py"), "--clafusion-dir", opts.clafusion_dir,
        "--pair", opts.pair, "--samples", str(opts.samples), "--threads", str(opts.threads), "--out", out,
        "--no-fused-out",
    ]
    ours_cmd = [
        "node", os.path.join(REPO, "gpu-runner", "bin", "clafusion.js"), "fuse",
        "--model", os.path.join(out, "a.pt"), "--model", os.path.join(out, "b.pt"),
        "--calibration", os.path.join(out, "cal.npy"), "--samples", str(opts.samples), *OURS[opts.pair],
        "--threads", str(opts.threads), "--out", os.path.join(out, "fused-ours.pt"),
        "--report", os.path.join(out, "report-ours.json"),
    ]
    rounds = []
    for r in range(opts.rounds):
        official = run_process(official_cmd, env)
        with open(os.path.join(out, "official.json")) as f:
            theirs = json.loads(f.read())
        ours = run_process(ours_cmd, env)
        with open(os.path.join(out, "report-ours.json")) as f:
            report = json.load(f)
        our_groups = our_group_mappings(report)
        entry = {
            "round": r + 1,
            "loadAverage": load_avg(),
            "official": {
                "stages": {k: theirs["seconds"][k] for k in ("activations", "cost", "fusion", "total")},
                "process": {"cpu": official["cpu"], "wall": official["wall"]},
                "peakRssMiB": theirs["peakRssMiB"],
                "groupMappings": theirs["groupMappings"],
            },
            "ours": {
                "stages": our_stages(report),
                "process": {"cpu": ours["cpu"], "wall": ours["wall"]},
                "peakRssMiB": ours["peakRssMiB"],
                "recording": (report.get("recording") or {}).get("detail"),
                "groupMappings": our_groups,
            },
        }
        entry["mappingsEqual"] = our_groups == theirs["groupMappings"]
        rounds.append(entry)
        o, m = entry["official"]["stages"]["total"]["wall"], entry["ours"]["stages"]["total"]
        print(f"round {r + 1}: official total {o:.1f} s, ours {m:.1f} s ({o / m:.2f}x), load {entry['loadAverage']}", flush=True)

    def med(values):
        return round(statistics.median(values), 2)

    stages = ("activations", "cost", "fusion", "total")
    summary = {
        "official": {s: med([e["official"]["stages"][s]["wall"] for e in rounds]) for s in stages},
        "officialCpu": {s: med([e["official"]["stages"][s]["cpu"] for e in rounds]) for s in stages},
        "ours": {s: med([e["ours"]["stages"][s] for e in rounds]) for s in stages},
        "oursProcess": {k: med([e["ours"]["process"][k] for e in rounds]) for k in ("cpu", "wall")},
        "officialProcess": {k: med([e["official"]["process"][k] for e in rounds]) for k in ("cpu", "wall")},
        "officialPeakRssMiB": max(e["official"]["peakRssMiB"] for e in rounds),
        "oursPeakRssMiB": max(e["ours"]["peakRssMiB"] for e in rounds),
        "mappingsEqual": all(e["mappingsEqual"] for e in rounds),
    }
    summary["speedup"] = round(summary["official"]["total"] / summary["ours"]["total"], 2)
    result = {
        "pair": opts.pair,
        "samples": opts.samples,
        "threads": opts.threads,
        "rounds": len(rounds),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "summary": summary,
        "byRound": rounds,
    }
    with open(os.path.join(out, "side-by-side.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"{'stage':<12}{'official (wall s)':>18}{'ours (s)':>10}{'official / ours':>17}")
    for s in stages:
        o, m = summary["official"][s], summary["ours"][s]
        print(f"{s:<12}{o:>18.2f}{m:>10.2f}{(o / m if m else float('inf')):>16.2f}x")
    print(f"peak RSS: official {summary['officialPeakRssMiB']} MiB, ours {summary['oursPeakRssMiB']} MiB")
    print(f"mappings equal in every round: {summary['mappingsEqual']}; results: {os.path.join(out, 'side-by-side.json')}")


if __name__ == "__main__":
    main()
