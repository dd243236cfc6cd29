#!/usr/bin/env python3
"""The baselines on the paper's frequency mixture, driven through `gba train --json`.

The mixture (spec/gba.md section 1): n = 128 unit Gaussian features in d = 42, half the tokens with s = 3
and half with s = 20, magnitudes U(0.5, 1.5); SAE width M = 512, 5M tokens, batch 512, `gba train`
defaults otherwise. Every run is one `gba train ... --json --out RUN` with `--threads 1`, at most two at
a time (the machine is shared); a run whose summary.json exists is not run again, so an interrupted
sweep continues where it stopped.

    python3 tools/experiments/mixture_baselines.py sweep      # TopK/BatchTopK x k x seeds x AuxK on/off
    python3 tools/experiments/mixture_baselines.py sweep-tied # the same, tied (the default before issue 11's fix)
    python3 tools/experiments/mixture_baselines.py long       # the points still rising at 5M tokens, to 20M
    python3 tools/experiments/mixture_baselines.py probes     # the distance to the paper: generator, width, lr, ...
    python3 tools/experiments/mixture_baselines.py start      # untied TopK/BatchTopK with the peers' encoder start
    python3 tools/experiments/mixture_baselines.py real       # TopK/BatchTopK dead fraction on the shared activations
    python3 tools/experiments/mixture_baselines.py report     # docs/experiments/mixture-baselines.json (+ tables on stdout)

Options: --gba PATH (default tools/Gba.Cli/bin/Release/net10.0/gba), --work DIR (run directories,
default /tmp/mixture-baselines), --jobs N (default 2). Pure standard library (no numpy): the encoder-row
read-out parses sae/sae_weights.safetensors with safetensors_file.py beside it.
"""
import argparse
import glob
import json
import math
import os
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import safetensors_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIX = ["--features", "128", "--dim", "42", "--sparsity", "3", "--mix-sparsity", "20", "--mix-fraction", "0.5",
       "--d-sae", "512", "--tokens", "5M"]
KS = [3, 5, 10, 20, 30, 50]
SEEDS = [1, 2, 3]
PAPER = {20: (100, 98.4), 30: (98.4, 24.2), 50: (94.5, 23.4)}
REAL = os.path.join(os.path.dirname(ROOT), "shared", "data", "use-lite-moby-resid1-40k.f16.npy")


# The runs whose dead latents `report` checks for reachability by AuxK (see reach()).
REACH = [f"{p}topk-k{k}-aux{a}-s{s}" for p in ("", "tied-") for k in (20, 30, 50) for a in ("on", "off") for s in SEEDS]


def sweep_runs(tied=False):
    """(name, args): the main grid; tied: the same grid with the default before issue 11's fix (`--tied`, runs named tied-*)."""
    for method in ["topk", "batchtopk"]:
        for k in KS:
            for aux in ["on", "off"]:
                for seed in SEEDS:
                    args = ["--method", method, "--k", str(k), "--seed", str(seed)] + (["--aux-k", "0"] if aux == "off" else [])
                    prefix = "tied-" if tied else ""
                    yield f"{prefix}{method}-k{k}-aux{aux}-s{seed}", MIX + args + ["--eval-every", "250"] + (["--tied"] if tied else [])


LONG = [("topk", 3), ("topk", 5), ("topk", 10), ("batchtopk", 3), ("batchtopk", 5), ("batchtopk", 10)]


def long_runs():
    """The grid points whose FRR was still rising between 2.5M and 5M tokens, again at 20M (AuxK on, the default)."""
    for method, k in LONG:
        for seed in SEEDS:
            args = [a if a != "5M" else "20M" for a in MIX]
            yield f"{method}-k{k}-auxon-s{seed}-20M", args + ["--method", method, "--k", str(k), "--seed", str(seed), "--eval-every", "1000"]


def probe_runs():
    """(name, group, args): one change at a time from TopK k = 20 and 30 (AuxK on), seeds 1-3 (the costly ones 1-2)."""
    variants = {
        # generator
        "magnitudes-1": ["--magnitude-min", "1", "--magnitude-max", "1"],
        "magnitudes-0.1-1.9": ["--magnitude-min", "0.1", "--magnitude-max", "1.9"],
        "datasetscale": ["--normalize", "datasetscale"],
        # width
        "width-256": ["--d-sae", "256"],
        "width-2048": ["--d-sae", "2048"],
        # learning rate and its schedule
        "lr-3e-4": ["--lr", "3e-4"],
        "lr-3e-3": ["--lr", "3e-3"],
        "lr-sparsify": ["--lr-warmup", "0.1", "--lr-schedule", "linear", "--lr-decay-start", "0.1"],
        "lr-dictlearn": ["--lr-warmup", "0.1", "--lr-schedule", "linear", "--lr-decay-start", "0.8"],
        # the encoder/decoder split (and with it the encoder-row read-out)
        "untied": ["--untied"],
        # as close to sparsify's recipe as the engine's options go: untied, its lr for M = 512 (2e-4 / sqrt(M / 2^14)),
        # warm-up over ~1,000 of the 9,766 steps, then a linear decay to 0 (get_linear_schedule_with_warmup)
        "sparsify-recipe": ["--untied", "--lr", "1.13e-3", "--lr-warmup", "0.1", "--lr-schedule", "linear", "--lr-decay-start", "0.1"],
        # AuxK's dead window
        "dead-50k": ["--dead-tokens", "50k"],
        "dead-16k": ["--dead-tokens", "16384"],   # the evaluation's own window: 16,384 held-out tokens
        # budget
        "tokens-20M": ["--tokens", "20M"],
        # the centring bias b_pre (issue 18's --pre-bias)
        "pre-bias-frozen": ["--pre-bias", "frozen"],
        "pre-bias-none": ["--pre-bias", "none"],
    }
    expensive = {"width-2048", "tokens-20M"}   # 4x the compute: two seeds
    for k in [20, 30]:
        for name, extra in variants.items():
            for seed in SEEDS[:2] if name in expensive else SEEDS:
                args = MIX + ["--method", "topk", "--k", str(k), "--seed", str(seed), "--eval-every", "1000"] + extra
                if "--tokens" in extra:   # the later --tokens wins: drop the mixture's 5M
                    i = args.index("--tokens")
                    del args[i:i + 2]
                if "--d-sae" in extra:
                    i = args.index("--d-sae")
                    del args[i:i + 2]
                # The probes were run before issue 11's fix: tied TopK, and untied with the encoder at the decoder rows.
                args += ["--encoder-start", "decoder"] if "--untied" in extra else ["--tied"]
                yield f"probe-{name}-k{k}-s{seed}", name, args
    # default GBA on the same mixture, for reference (the GBA side is issue 18's)
    for seed in SEEDS:
        yield f"probe-gba-default-s{seed}", "gba-default", MIX + ["--method", "gba", "--seed", str(seed), "--eval-every", "1000"]


def start_runs():
    """Issue 11's encoder start (AuxK on, the default): untied TopK/BatchTopK with the peers' start (`linear`), k = 30,
    20, 50 first, then the small k whose recovery must not get worse; the same untied with the encoder at the unit
    decoder rows (`decoder`, the start before the fix); and sparsify's lr and schedule with each start at k = 30. The
    tied rows are the sweep's auxon runs."""
    for method, ks in [("topk", [30, 20, 50, 5, 10]), ("batchtopk", [30, 20, 5, 10])]:
        for k in ks:
            for seed in SEEDS:
                yield f"untied-{method}-k{k}-s{seed}", MIX + ["--method", method, "--k", str(k), "--seed", str(seed), "--untied",
                                                            "--eval-every", "250"]
    for method, ks in [("topk", [30, 20, 5, 10]), ("batchtopk", [30, 20])]:
        for k in ks:
            for seed in SEEDS:
                yield f"untied-decoder-{method}-k{k}-s{seed}", MIX + ["--method", method, "--k", str(k), "--seed", str(seed), "--untied",
                                                                    "--encoder-start", "decoder", "--eval-every", "250"]
    sparsify_lr = ["--lr", "1.13e-3", "--lr-warmup", "0.1", "--lr-schedule", "linear", "--lr-decay-start", "0.1"]
    for start in ["linear", "decoder"]:
        for seed in SEEDS:
            yield f"untied-{start}-sparsify-lr-topk-k30-s{seed}", MIX + [
                "--method", "topk", "--k", "30", "--seed", str(seed), "--untied", "--encoder-start", start] + sparsify_lr + ["--eval-every", "250"]
    # which part of sparsify's schedule, with the peers' start; and the schedule at k = 20, 3 and 5 and for BatchTopK k = 30
    parts = {"warmup": ["--lr-warmup", "0.1"], "decay": ["--lr-schedule", "linear", "--lr-decay-start", "0.1"]}
    for part, args in parts.items():
        for seed in SEEDS:
            yield f"untied-linear-{part}-topk-k30-s{seed}", MIX + ["--method", "topk", "--k", "30", "--seed", str(seed)] + args + ["--eval-every", "250"]
    for method, k in [("topk", 20), ("batchtopk", 30), ("topk", 3), ("topk", 5)]:
        for seed in SEEDS:
            yield f"untied-linear-sparsify-lr-{method}-k{k}-s{seed}", MIX + ["--method", method, "--k", str(k), "--seed", str(seed)] + sparsify_lr + [
                "--eval-every", "250"]


def real_runs():
    """TopK on the shared activations, AuxK on and off at the same budget, seeds 1 and 2: tied as run before issue 11's
    fix (real-*), and with today's default, untied with the peers' start (real-untied-*)."""
    for weights in ["", "untied-"]:
        for method, k in [("topk", 4)]:
            for seed in SEEDS[:2]:
                for aux in ["on", "off"]:
                    yield f"real-{weights}{method}-k{k}-aux{aux}-s{seed}", ["--data", REAL, "--d-sae", "4096", "--steps", "1500", "--method", method,
                                                                            "--k", str(k), "--seed", str(seed), "--eval-every", "250"] + (
                        ["--tied"] if not weights else []) + (["--aux-k", "0"] if aux == "off" else [])


def eval_all_rows(gba, work, name):
    """`gba eval` of a real-data run on all 40,000 rows of the file (training rows included): its dead fraction
    counts latents that never fire in 40,000 tokens, against 4,000 held-out tokens in the run's own evaluation."""
    run = os.path.join(work, name)
    out = os.path.join(run, "eval-all-rows.json")
    if os.path.exists(out) or not os.path.exists(os.path.join(run, "summary.json")):
        return
    p = subprocess.run([gba, "eval", "--sae", run, "--data", REAL, "--threads", "1", "--json"], capture_output=True, text=True, check=True)
    line = [l for l in p.stdout.splitlines() if l.startswith("{")][-1]
    with open(out + ".tmp", "w") as f:
        f.write(line + "\n")
    os.replace(out + ".tmp", out)


def run_one(gba, work, name, args):
    out = os.path.join(work, name)
    if os.path.exists(os.path.join(out, "summary.json")):
        return name, "cached"
    cmd = [gba, "train", *args, "--threads", "1", "--quiet", "--json", "--out", out]
    if os.path.isdir(out):   # an unfinished earlier attempt: start it again
        subprocess.run(["rm", "-rf", out], check=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return name, f"FAILED ({p.returncode}): {p.stderr.strip()[-300:]}"
    with open(os.path.join(out, "command.txt"), "w") as f:
        f.write("gba " + " ".join(cmd[1:]) + "\n")
    return name, "done"


def run_all(gba, work, jobs, runs):
    os.makedirs(work, exist_ok=True)
    with ThreadPoolExecutor(jobs) as pool:
        for name, status in pool.map(lambda r: run_one(gba, work, r[0], r[1]), runs):
            print(f"{name}: {status}", flush=True)


def load(work, name):
    d = os.path.join(work, name)
    try:
        with open(os.path.join(d, "summary.json")) as f:
            summary = json.load(f)
    except FileNotFoundError:
        return None
    curve = []
    with open(os.path.join(d, "metrics.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            curve.append({k: m.get(k) for k in ["step", "tokens", "frr_0_8", "frr_0_9", "dead_fraction", "fvu", "l0"]})
    summary["curve"] = curve
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    summary["normalize"] = config["options"]["normalize"]
    summary["window_dead_fraction"] = window_dead(d)
    return summary


def window_dead(run):
    """The fraction of latents AuxK treats as dead at the end of training: tokens_since_fired above the dead window,
    from the run's last checkpoint (None when the run kept no counters). Not the evaluation's dead fraction, which
    counts the latents that never fire on the 16,384 held-out tokens: a latent firing once in 100k tokens is
    dead there and alive here."""
    cks = sorted(glob.glob(os.path.join(run, "checkpoints", "step-*")))
    if not cks:
        return None
    with open(os.path.join(cks[-1], "state.json")) as f:
        o = json.load(f)["options"]
    since = safetensors_file.values(os.path.join(cks[-1], "tensors.safetensors")).get("tokens_since_fired")
    if since is None or not o.get("aux_k"):
        return None
    window = o["dead_tokens"] or o["tokens"] // 10
    return sum(1 for c in since[1] if c > window) / len(since[1])


def npy_f32(path):
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY"
        major = f.read(2)[0]
        hlen = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(hlen).decode()
        shape = eval(header[header.index("(", header.index("shape")):header.index(")", header.index("shape")) + 1])
        assert "<f4" in header
        vals = struct.unpack(f"<{shape[0] * shape[1]}f", f.read())
    return shape, vals


def rows(shape, vals, transpose=False):
    r, c = shape
    if not transpose:
        return [vals[i * c:(i + 1) * c] for i in range(r)]
    return [[vals[j * c + i] for j in range(r)] for i in range(c)]


def frr(features, directions, tau):
    def unit(v):
        n = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / n for x in v]
    dirs = [unit(d) for d in directions]
    hit = 0
    for v in features:
        u = unit(v)
        best = max(sum(a * b for a, b in zip(u, d)) for d in dirs)
        hit += best > tau
    return hit / len(features)


def readouts(gba, work, name, seed):
    """FRR of the decoder rows (the CLI's) and of the encoder rows (pre-activation read-out), from the exported SAE."""
    truth = os.path.join(work, f"features-s{seed}")
    if not os.path.exists(os.path.join(truth, "features.npy")):
        subprocess.run([gba, "synth", "--features", "128", "--dim", "42", "--sparsity", "3", "--seed", str(seed), "--tokens", "1",
                        "--out", truth, "--quiet"], check=True, capture_output=True)
    v = rows(*npy_f32(os.path.join(truth, "features.npy")))
    w = safetensors_file.values(os.path.join(work, name, "sae", "sae_weights.safetensors"))
    dec = rows(*w["W_dec"])                     # [M, d]
    enc = rows(*w["W_enc"], transpose=True)     # [d, M] -> M rows
    return {f"{part}_{tau}": frr(v, rows_, tau) for part, rows_ in [("dec", dec), ("enc", enc)] for tau in (0.8, 0.9)}


def reach(gba, work, name, seed, tokens=1024):
    """Can AuxK reach the dead latents? AuxK (as sparsify and OpenAI implement it) selects each token's largest
    *positive* pre-activations y = w_enc.(x' - b_dec) + b_enc among the dead latents, so a latent whose y is <= 0
    on every token gets no gradient from it. From the exported SAE (x' = sqrt(d) x/|x|, SAELens'
    constant_norm_rescale, which the export folds in) on fresh mixture tokens drawn with the run's true features
    (s = 3 or 20 distinct features, magnitudes U(0.5, 1.5): the generator's law, not its stream): the latents that
    never fired on the evaluation set (neurons.json), how many of them have y > 0 on at least one token, and the
    mean number of positive dead y per token. Also checks the read-out: the fraction of tokens whose top-k by this
    formula fires only latents the evaluation saw fire."""
    import random
    truth = os.path.join(work, f"features-s{seed}")
    if not os.path.exists(os.path.join(truth, "features.npy")):
        subprocess.run([gba, "synth", "--features", "128", "--dim", "42", "--sparsity", "3", "--seed", str(seed), "--tokens", "1",
                        "--out", truth, "--quiet"], check=True, capture_output=True)
    feats = rows(*npy_f32(os.path.join(truth, "features.npy")))
    w = safetensors_file.values(os.path.join(work, name, "sae", "sae_weights.safetensors"))
    (d, m), wenc = w["W_enc"]
    benc, bdec = w["b_enc"][1], w["b_dec"][1]
    cols = [[wenc[j * m + i] for j in range(d)] for i in range(m)]
    with open(os.path.join(work, name, "neurons.json")) as f:
        freq = json.load(f)["frequency"]
    with open(os.path.join(work, name, "config.json")) as f:
        k = int(json.load(f)["options"]["k"])
    dead = [i for i in range(m) if freq[i] == 0]
    rng = random.Random(1000 + seed)
    positive = [0] * m
    per_token, consistent = 0, 0
    for _ in range(tokens):
        s = 20 if rng.random() < 0.5 else 3
        x = [0.0] * d
        for f_ in rng.sample(range(len(feats)), s):
            c = rng.uniform(0.5, 1.5)
            for j in range(d):
                x[j] += c * feats[f_][j]
        norm = math.sqrt(sum(v * v for v in x))
        xc = [v * math.sqrt(d) / norm - b for v, b in zip(x, bdec)]
        y = [sum(a * b for a, b in zip(cols[i], xc)) + benc[i] for i in range(m)]
        for i in dead:
            if y[i] > 0:
                positive[i] += 1
                per_token += 1
        top = sorted(range(m), key=lambda i: -y[i])[:k]
        consistent += all(freq[i] > 0 for i in top if y[i] > 0)
    reached = sum(1 for i in dead if positive[i] > 0)
    return {"run": name, "k": k, "tokens": tokens, "dead": len(dead), "dead_with_positive_y": reached,
            "positive_dead_y_per_token": per_token / tokens, "topk_consistent_with_eval": consistent / tokens}


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def spread(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (float("nan"), float("nan"))


def at_tokens(curve, tokens):
    """The evaluation nearest to a token count."""
    return min(curve, key=lambda c: abs(c["tokens"] - tokens))


def report(gba, work, path, reuse_reach=False):
    result = {"setup": {"mixture": " ".join(MIX), "threads": 1, "defaults": "gba train defaults (lr 1e-3, batch 512, AdamW, "
                                                                                "AuxK k_aux = d/2 = 21, alpha = 1/32, dead window = budget/10, "
                                                                                "normalize pertoken; TopK and BatchTopK untied with the peers' "
                                                                                "encoder start since issue 11's fix); each row records the "
                                                                                "normalisation its runs used",
                        "sweep_tied": "the same sweep with the default before issue 11's fix: tied TopK and BatchTopK (its runs renamed "
                                      "tied-*; `--tied` repeats them)",
                        "probes": "the probes were made with the tied default, before the fix; each real-data row says "
                                  "whether it was tied"},
              "sweep": [], "sweep_tied": [], "start": [], "probes": [], "real": []}
    for prefix, key in [("", "sweep"), ("tied-", "sweep_tied")]:
        sweep_rows(work, prefix, result[key])
    start_rows(work, result["start"])
    report_rest(gba, work, path, reuse_reach, result)


def sweep_rows(work, prefix, out):
    print(f"\n{prefix or 'default'}:")
    print("| method | k | AuxK | FRR@0.8 mean (min-max) | FRR@0.9 mean (min-max) | dead (min-max) | AuxK-dead | FVU | L0 | FRR@0.8 at 0.5M / 1M / 2.5M / 5M | seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for method in ["topk", "batchtopk"]:
        for k in KS:
            for aux in ["on", "off"]:
                runs = [load(work, f"{prefix}{method}-k{k}-aux{aux}-s{s}") for s in SEEDS]
                runs = [r for r in runs if r]
                if not runs:
                    continue
                half = [at_tokens(r["curve"], 2_500_000) for r in runs]
                row = {
                    "method": method, "k": k, "auxk": aux == "on", "seeds": [r["seed"] for r in runs],
                    "frr_0_8": [r["frr_0_8"] for r in runs], "frr_0_9": [r["frr_0_9"] for r in runs],
                    "dead_fraction": [r["dead_fraction"] for r in runs], "window_dead_fraction": [r["window_dead_fraction"] for r in runs],
                    "fvu": [r["fvu"] for r in runs], "l0": [r["l0"] for r in runs],
                    "normalize": sorted({r["normalize"] for r in runs}),
                    "frr_0_8_at_2_5M": [h["frr_0_8"] for h in half], "dead_at_2_5M": [h["dead_fraction"] for h in half],
                    "curves": [r["curve"] for r in runs],
                }
                out.append(row)
                f8, f9, dd = spread(row["frr_0_8"]), spread(row["frr_0_9"]), spread(row["dead_fraction"])
                curve = " / ".join(f"{mean([at_tokens(r['curve'], t)['frr_0_8'] for r in runs]):.2f}"
                                   for t in (500_000, 1_000_000, 2_500_000, 5_000_000))
                print(f"| {method} | {k} | {aux} | {mean(row['frr_0_8']):.3f} ({f8[0]:.3f}-{f8[1]:.3f}) | "
                      f"{mean(row['frr_0_9']):.3f} ({f9[0]:.3f}-{f9[1]:.3f}) | {mean(row['dead_fraction']):.3f} ({dd[0]:.2f}-{dd[1]:.2f}) | "
                      f"{'-' if aux == 'off' else format(mean(row['window_dead_fraction']), '.3f')} | {mean(row['fvu']):.4f} | {mean(row['l0']):.1f} | {curve} | {len(runs)} |")


def start_rows(work, out):
    """The encoder-start runs that are not the default sweep's (`start`): per group of seeds, the final figures, per seed."""
    groups = {}
    for name, _ in start_runs():
        group = name.rsplit("-s", 1)[0]
        if group.startswith(("untied-topk-", "untied-batchtopk-")):
            continue   # the new default: the sweep's auxon rows
        r = load(work, name)
        if r:
            groups.setdefault(group, []).append(r)
    print("\n| encoder-start run | FRR@0.8 per seed | FRR@0.9 per seed | dead per seed | AuxK-dead per seed | FVU |")
    print("|---|---|---|---|---|---|")
    for group, runs in groups.items():
        row = {"run": group, "seeds": [r["seed"] for r in runs], "frr_0_8": [r["frr_0_8"] for r in runs],
               "frr_0_9": [r["frr_0_9"] for r in runs], "dead_fraction": [r["dead_fraction"] for r in runs],
               "window_dead_fraction": [r["window_dead_fraction"] for r in runs], "fvu": [r["fvu"] for r in runs],
               "l0": [r["l0"] for r in runs]}   # the learning curves are in each run's metrics.jsonl
        out.append(row)
        per = lambda xs: " / ".join(f"{x:.3f}" for x in xs)
        print(f"| {group} | {per(row['frr_0_8'])} | {per(row['frr_0_9'])} | {per(row['dead_fraction'])} | "
              f"{per(row['window_dead_fraction'])} | {mean(row['fvu']):.4f} |")


def report_rest(gba, work, path, reuse_reach, result):
    print("\nat 20M tokens (AuxK on)  FRR@0.8 (min-max)      FRR@0.9 (min-max)      dead   FVU     FRR@0.8 at 5M / 10M")
    for method, k in LONG:
        runs = [r for r in (load(work, f"{method}-k{k}-auxon-s{s}-20M") for s in SEEDS) if r]
        if not runs:
            continue
        row = {"method": method, "k": k, "auxk": True, "tokens": runs[0]["tokens"], "seeds": [r["seed"] for r in runs],
               "frr_0_8": [r["frr_0_8"] for r in runs], "frr_0_9": [r["frr_0_9"] for r in runs],
               "dead_fraction": [r["dead_fraction"] for r in runs], "fvu": [r["fvu"] for r in runs], "l0": [r["l0"] for r in runs],
               "frr_0_8_at_5M": [at_tokens(r["curve"], 5_000_000)["frr_0_8"] for r in runs],
               "frr_0_8_at_10M": [at_tokens(r["curve"], 10_000_000)["frr_0_8"] for r in runs],
               "curves": [r["curve"] for r in runs]}
        result.setdefault("long", []).append(row)
        f8, f9 = spread(row["frr_0_8"]), spread(row["frr_0_9"])
        print(f"{method:9s} {k:3d}            {mean(row['frr_0_8']):.3f} ({f8[0]:.3f}-{f8[1]:.3f})  {mean(row['frr_0_9']):.3f} ({f9[0]:.3f}-{f9[1]:.3f})  "
              f"{mean(row['dead_fraction']):.3f}  {mean(row['fvu']):.4f}  {mean(row['frr_0_8_at_5M']):.3f} / {mean(row['frr_0_8_at_10M']):.3f}")
    groups = {}
    for name, group, _ in probe_runs():
        r = load(work, name)
        if not r:
            continue
        k = None if group == "gba-default" else int(name.split("-k")[-1].split("-")[0])
        entry = {"run": name, "group": group, "k": k, "seed": r["seed"], "normalize": r["normalize"], "frr_0_8": r["frr_0_8"], "frr_0_9": r["frr_0_9"],
                 "dead_fraction": r["dead_fraction"], "fvu": r["fvu"], "l0": r["l0"], "tokens": r["tokens"], "curve": r["curve"]}
        if group == "untied":
            entry["readouts"] = readouts(gba, work, name, r["seed"])
        result["probes"].append(entry)
        groups.setdefault((group, k), []).append(entry)
    if groups:
        print("\nprobe (TopK, AuxK on)      k   FRR@0.8 mean (min-max)  FRR@0.9 mean (min-max)  dead    FVU     L0")
    for (group, k), es in groups.items():
        f8, f9 = spread([e["frr_0_8"] for e in es]), spread([e["frr_0_9"] for e in es])
        extra = ""
        if group == "untied":
            extra = "  encoder rows @0.8/0.9 " + "/".join(f"{mean([e['readouts'][f'enc_{t}'] for e in es]):.3f}" for t in (0.8, 0.9))
        print(f"{group:24s} {str(k):>4s}  {mean([e['frr_0_8'] for e in es]):.3f} ({f8[0]:.3f}-{f8[1]:.3f})     "
              f"{mean([e['frr_0_9'] for e in es]):.3f} ({f9[0]:.3f}-{f9[1]:.3f})     {mean([e['dead_fraction'] for e in es]):.3f}  "
              f"{mean([e['fvu'] for e in es]):.4f} {mean([e['l0'] for e in es]):6.2f}  n={len(es)}{extra}")
    earlier = {}
    if reuse_reach and os.path.exists(path):   # reach() is pure Python and slow: keep the figures of unchanged runs
        with open(path) as f:
            earlier = {e["run"]: e for e in json.load(f).get("reach", [])}
    for name in REACH:
        r = load(work, name)
        if r and r["normalize"] == "pertoken":   # reach() feeds the export per-token-normalised tokens
            e = earlier.get(name) or reach(gba, work, name, r["seed"])
            result.setdefault("reach", []).append(e)
            print(f"reach {name:24s} dead {e['dead']:3d}, with y > 0 on some token {e['dead_with_positive_y']:3d}, "
                  f"positive dead y per token {e['positive_dead_y_per_token']:.2f} (read-out check {e['topk_consistent_with_eval']:.3f})")
    for name, _ in real_runs():
        r = load(work, name)
        if r:
            all_rows = None
            if os.path.exists(os.path.join(work, name, "eval-all-rows.json")):
                with open(os.path.join(work, name, "eval-all-rows.json")) as f:
                    all_rows = json.load(f)["dead_fraction"]
            result["real"].append({"run": name, "seed": r["seed"], "tied": "-untied-" not in name, "normalize": r["normalize"], "dead_fraction": r["dead_fraction"],
                                   "dead_fraction_all_40k_rows": all_rows,
                                   "window_dead_fraction": r["window_dead_fraction"], "fvu": r["fvu"], "l0": r["l0"], "tokens": r["tokens"],
                                   "curve": r["curve"]})
            print(f"{name:28s} dead {r['dead_fraction']:.4f} (4,000 held out) {all_rows} (all 40k rows)  AuxK-dead {r['window_dead_fraction']}  "
                  f"FVU {r['fvu']:.4f}  L0 {r['l0']:.1f}  tokens {r['tokens']}")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)
    print(f"\nwrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["sweep", "sweep-tied", "long", "probes", "start", "real", "report"])
    ap.add_argument("--gba", default=os.path.join(ROOT, "tools", "Gba.Cli", "bin", "Release", "net10.0", "gba"))
    ap.add_argument("--work", default="/tmp/mixture-baselines")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json-out", default=os.path.join(ROOT, "docs", "experiments", "mixture-baselines.json"), help="report: where the JSON goes")
    ap.add_argument("--reuse-reach", action="store_true", help="report: take the reachability figures from the existing JSON")
    ap.add_argument("--only", default="", help="run only the runs whose name starts with this prefix")
    a = ap.parse_args()
    if a.what in ("sweep", "sweep-tied"):
        run_all(a.gba, a.work, a.jobs, [r for r in sweep_runs(a.what == "sweep-tied") if r[0].startswith(a.only)])
    elif a.what == "long":
        run_all(a.gba, a.work, a.jobs, [r for r in long_runs() if r[0].startswith(a.only)])
    elif a.what == "probes":
        run_all(a.gba, a.work, a.jobs, [(n, args) for n, _, args in probe_runs() if n.startswith(a.only)])
    elif a.what == "start":
        run_all(a.gba, a.work, a.jobs, [r for r in start_runs() if r[0].startswith(a.only)])
    elif a.what == "real":
        runs = [r for r in real_runs() if r[0].startswith(a.only)]
        run_all(a.gba, a.work, a.jobs, runs)
        for name, _ in runs:
            eval_all_rows(a.gba, a.work, name)
    else:
        report(a.gba, a.work, a.json_out, a.reuse_reach)


if __name__ == "__main__":
    sys.exit(main())
