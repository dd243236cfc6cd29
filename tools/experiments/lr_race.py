#!/usr/bin/env python3
"""Tokens to recovery of GBA against TopK across learning rates (docs/experiments.md section 2).

At the default lr 1e-3 GBA and the peers' TopK with k wrong by 2x cross FRR@0.9 = 0.9 at the same evaluation
on the uniform model, and no change to the bias rule moved GBA's crossing (section 2). The crossing is set by
the weight optimiser, so this sweep asks the question at every learning rate both methods share: each run is
one `gba train ... --lr LR --eval-points 60 --threads 1 --json --out RUN`, and the tokens are the first row
of RUN/metrics.jsonl with frr_0_9 >= 0.9. Every method sees the same lr, batch and data at each point.

    python3 tools/experiments/lr_race.py run       # the grid below (skips runs whose summary.json exists)
    python3 tools/experiments/lr_race.py report    # markdown tables on stdout, JSON to --json-out

Options: --gba PATH (default tools/Gba.Cli/bin/Release/net10.0/gba), --work DIR (default /tmp/lr-race),
--jobs N (default 2), --lrs A,B,... Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LRS = [1e-3, 3e-3, 6e-3, 1e-2, 2e-2]
SEEDS = [1, 2]

# problem: (gba train arguments, told k, k = s/2, k = 2s). The mixture's told k is its mean s (11.5 -> 12).
PROBLEMS = {
    "uniform n=1024 d=64 s=4": (["--features", "1024", "--dim", "64", "--sparsity", "4", "--d-sae", "4096", "--tokens", "1M"], 4, 2, 8),
    "power law a=1 n=512 d=64 s=3": (["--features", "512", "--dim", "64", "--sparsity", "3", "--profile", "powerlaw", "--exponent", "1",
                                      "--d-sae", "2048", "--tokens", "2M"], 3, 2, 6),
    "mixture s=3/20 n=128 d=42": (["--features", "128", "--dim", "42", "--sparsity", "3", "--mix-sparsity", "20", "--mix-fraction", "0.5",
                                   "--d-sae", "512", "--tokens", "1.5M"], 12, 6, 24),
}


def methods(told, half, double):
    """(label, arguments): GBA with nothing told, the peers' (untied) TopK at the told k and at k wrong by 2x, tied TopK at s/2."""
    yield "GBA", []
    yield f"TopK k={told} (told s)", ["--method", "topk", "--k", str(told)]
    yield f"TopK k={half} (s/2)", ["--method", "topk", "--k", str(half)]
    yield f"TopK k={double} (2s)", ["--method", "topk", "--k", str(double)]
    yield f"TopK k={half} (s/2), tied", ["--method", "topk", "--k", str(half), "--tied"]


def runs(lrs):
    for p, (args, told, half, double) in PROBLEMS.items():
        for label, margs in methods(told, half, double):
            for lr in lrs:
                for seed in SEEDS:
                    name = f"{p}|{label}|{lr:g}|{seed}".replace(" ", "_").replace("/", "_").replace("|", "__")
                    yield name, (p, label, lr, seed), args + margs + ["--lr", f"{lr:g}", "--seed", str(seed), "--eval-points", "60", "--threads", "1"]


def run_one(gba, work, name, args):
    out = os.path.join(work, name)
    if os.path.exists(os.path.join(out, "summary.json")):
        return
    subprocess.run(["rm", "-rf", out], check=True)
    p = subprocess.run([gba, "train", "--quiet", "--json", "--out", out] + args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"lr_race: {name} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    print(f"done {name}", flush=True)


def curve(work, name):
    with open(os.path.join(work, name, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def crossing(rows):
    return next((r["tokens"] for r in rows if r.get("frr_0_9", 0) >= 0.9), None)


def rounded(v):
    return float(f"{v:.4g}") if isinstance(v, float) else v


def fmt_tokens(t):
    return "never" if t is None else f"{t / 1e6:.2f}M"


def report(work, lrs, json_out):
    results = []
    for name, (p, label, lr, seed), args in runs(lrs):
        rows = curve(work, name)
        last = rows[-1]
        results.append({"problem": p, "method": label, "lr": lr, "seed": seed, "tokens_to_frr09": crossing(rows),
                        "final_frr_0_8": last.get("frr_0_8"), "final_frr_0_9": last.get("frr_0_9"), "fvu": last["fvu"],
                        "l0": last["l0"], "dead_fraction": last["dead_fraction"], "command": "gba train " + " ".join(args),
                        "curve": [{k: rounded(r.get(k)) for k in ("tokens", "frr_0_8", "frr_0_9", "fvu", "l0", "dead_fraction")} for r in rows]})
    with open(json_out, "w") as f:
        # One run per line: the 150 curves stay small enough to keep beside the page that cites them.
        f.write('{"what": "tokens to FRR@0.9 >= 0.9 against the learning rate (tools/experiments/lr_race.py)", "runs": [\n')
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in results))
        f.write("\n]}\n")
    for p in PROBLEMS:
        print(f"\n{p}: tokens to FRR@0.9 >= 0.9 per seed; final FRR@0.9 and FVU, seed-1 / seed-2\n")
        print("| method | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |")
        print("|---|" + "---|" * len(lrs))
        for label in dict.fromkeys(r["method"] for r in results if r["problem"] == p):
            cells = []
            for lr in lrs:
                rs = sorted((r for r in results if r["problem"] == p and r["method"] == label and r["lr"] == lr), key=lambda r: r["seed"])
                t = ", ".join(fmt_tokens(r["tokens_to_frr09"]) for r in rs)
                fin = "/".join(f"{r['final_frr_0_9']:.2f}" for r in rs)
                fvu = "/".join(f"{r['fvu']:.2f}" for r in rs)
                cells.append(f"{t} ({fin}; FVU {fvu})")
            print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nEach method at its own best lr of the grid: the lr whose slower seed crosses first, among the lrs at which every")
    print("seed crosses and still has FRR@0.9 >= 0.9 at the end (recovery that holds)\n")
    print("| problem | method | best lr | tokens to FRR@0.9 >= 0.9 per seed | final FRR@0.9 | FVU |")
    print("|---|---|---|---|---|---|")
    for p in PROBLEMS:
        for label in dict.fromkeys(r["method"] for r in results if r["problem"] == p):
            best = None
            for lr in lrs:
                rs = sorted((r for r in results if r["problem"] == p and r["method"] == label and r["lr"] == lr), key=lambda r: r["seed"])
                if all(r["tokens_to_frr09"] is not None and r["final_frr_0_9"] >= 0.9 for r in rs):
                    worst = max(r["tokens_to_frr09"] for r in rs)
                    if best is None or worst < best[0]:
                        best = (worst, lr, rs)
            if best is None:
                print(f"| {p} | {label} | none holds | | | |")
                continue
            _, lr, rs = best
            print(f"| {p} | {label} | {lr:g} | " + ", ".join(fmt_tokens(r["tokens_to_frr09"]) for r in rs) + " | " +
                  "/".join(f"{r['final_frr_0_9']:.2f}" for r in rs) + " | " + "/".join(f"{r['fvu']:.2f}" for r in rs) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["run", "report"])
    ap.add_argument("--gba", default=os.path.join(ROOT, "tools", "Gba.Cli", "bin", "Release", "net10.0", "gba"))
    ap.add_argument("--work", default="/tmp/lr-race")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--lrs", default=",".join(f"{lr:g}" for lr in LRS))
    ap.add_argument("--json-out", default=os.path.join(ROOT, "docs", "experiments", "lr-race.json"))
    a = ap.parse_args()
    lrs = [float(x) for x in a.lrs.split(",")]
    if a.command == "run":
        if not os.access(a.gba, os.X_OK):
            sys.exit(f"lr_race: --gba {a.gba} is not an executable (build tools/Gba.Cli in Release first)")
        os.makedirs(a.work, exist_ok=True)
        with ThreadPoolExecutor(a.jobs) as pool:
            for f in [pool.submit(run_one, a.gba, a.work, name, args) for name, _, args in runs(lrs)]:
                f.result()
    else:
        report(a.work, lrs, a.json_out)


if __name__ == "__main__":
    main()
