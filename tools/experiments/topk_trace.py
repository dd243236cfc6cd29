#!/usr/bin/python3
"""Trace how an engine TopK run's latents die, from its checkpoints (issue 11).

Reads every DIR/checkpoints/step-*/tensors.safetensors of a `gba train --method topk ... --checkpoint-every N
--keep-checkpoints K` run on the s = 3/20 frequency mixture, and per checkpoint evaluates on 4,096 fresh
mixture tokens (the run's true features from `gba synth` with its seed; the generator's law, per-token
normalised as the run was) each latent's largest pre-activation y_m = u_m.(x/|x| - b_pre) + b_m (the
engine's formula, spec in Engine/Model/SparseAutoencoder.cs), its bias b_m and scale a_m, and the
checkpoint's tokens_since_fired counter (AuxK's dead-latent clock). It prints one line per checkpoint
and writes a JSON summary:

- reachable: latents with y > 0 on at least one probe token (the only ones a post-ReLU AuxK can select);
- stale: latents whose counter exceeds the dead window (what AuxK treats as dead);
- for the latents dead at the end (never selected on the final probe): their median b, median max y,
  median a, and how many of them fired since the previous checkpoint;
- with --frequency-tokens N, how many latents of the final model fire never, less than once per 100k
  tokens, and less than once per 16,384 tokens (the evaluation set's size) on N fresh tokens.

    /usr/bin/python3 tools/experiments/topk_trace.py RUN_DIR --gba tools/Gba.Cli/bin/Release/net10.0/gba --out trace.json [--frequency-tokens 500000]

numpy only (the Debian python3-numpy).
"""
import argparse
import glob
import json
import os
import subprocess
import tempfile

import numpy as np

import safetensors_file


def tensors(path):
    """{name: flat numpy array} of a checkpoint's tensors.safetensors."""
    types = {"F32": np.float32, "I64": np.int64, "I32": np.int32}
    return {name: np.frombuffer(data, dtype=types[dtype]) for name, (dtype, _, data) in safetensors_file.raw(path).items()}


def layout(flat, d, m, tied):
    """W_dec [M x S] | W_enc [M x S] (untied) | a [M] | b_pre [S] | b [M], segments on 16-float boundaries."""
    s = (d + 15) // 16 * 16
    at = 0
    dec = flat[at:at + m * s].reshape(m, s)[:, :d]; at += m * s
    enc = dec
    if not tied:
        enc = flat[at:at + m * s].reshape(m, s)[:, :d]; at += m * s
    a = flat[at:at + m]; at += (m + 15) // 16 * 16
    pre = flat[at:at + d]; at += s
    b = flat[at:at + m]
    return dec, enc, a, pre, b


def probe(features, count, seed):
    rng = np.random.default_rng(seed)
    n, d = features.shape
    x = np.zeros((count, d))
    for t in range(count):
        s = 20 if rng.random() < 0.5 else 3
        idx = rng.choice(n, s, replace=False)
        x[t] = rng.uniform(0.5, 1.5, s) @ features[idx]
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def frequencies(feats, enc, pre, b, k, count, seed):
    """How often each latent of the final model fires (is in a token's top-k with y > 0) on `count` fresh tokens."""
    rng = np.random.default_rng(9000 + seed)
    n = feats.shape[0]
    fired = np.zeros(enc.shape[0])
    done = 0
    while done < count:
        rows = min(8192, count - done)
        s = np.where(rng.random(rows) < 0.5, 20, 3)
        order = rng.random((rows, n)).argsort(1)
        c = np.zeros((rows, n))
        np.put_along_axis(c, order, (np.arange(n)[None, :] < s[:, None]) * rng.uniform(0.5, 1.5, (rows, n)), 1)
        x = c @ feats
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y = (x - pre) @ enc.T + b
        top = np.argpartition(-y, k, axis=1)[:, :k]
        np.add.at(fired, top[np.take_along_axis(y, top, 1) > 0], 1)
        done += rows
    f = fired / done
    return {"tokens": done, "never": int((fired == 0).sum()), "below_1e-5": int((f < 1e-5).sum()),
            "below_1/16384": int((f < 1 / 16384).sum())}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("--gba", default="tools/Gba.Cli/bin/Release/net10.0/gba")
    p.add_argument("--frequency-tokens", type=int, default=0, help="also count the final model's firing frequencies on this many fresh tokens")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    first = sorted(glob.glob(os.path.join(a.run, "checkpoints", "step-*")))[0]
    with open(os.path.join(first, "state.json")) as f:
        o = json.load(f)["options"]   # the trainer's options (the checkpoint's vocabulary)
    m, k, tied, seed = o["neurons"], o["k"], o["tied"], o["seed"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([a.gba, "synth", "--features", "128", "--dim", "42", "--sparsity", "3", "--seed", str(seed),
                        "--tokens", "1", "--out", tmp, "--quiet"], check=True, capture_output=True)
        feats = np.load(os.path.join(tmp, "features.npy")).astype(np.float64)
    d = feats.shape[1]
    x = probe(feats, 4096, 4242 + seed)
    window = o["dead_tokens"] or o["tokens"] // 10
    points = []
    for ck in sorted(glob.glob(os.path.join(a.run, "checkpoints", "step-*"))):
        with open(os.path.join(ck, "state.json")) as f:
            step = json.load(f)["step"]
        t = tensors(os.path.join(ck, "tensors.safetensors"))
        dec, enc, sc, pre, b = layout(t["parameters"].astype(np.float64), d, m, tied)
        y = (x - pre) @ enc.T + b
        top = np.argsort(-y, axis=1)[:, :k]
        sel = np.zeros(m, bool)
        rows = np.take_along_axis(y, top, 1) > 0
        sel[top[rows]] = True
        points.append({"step": step, "max_y": y.max(0), "b": b.copy(), "a": sc.copy(), "selected": sel,
                       "since": t["tokens_since_fired"].copy()})
    final_dead = ~points[-1]["selected"]
    summary = []
    prev_since = None
    print(f"{'step':>6} {'sel':>4} {'reach':>5} {'stale':>5} | eventually dead ({final_dead.sum()}): "
          f"{'b med':>7} {'maxy med':>8} {'a med':>6} {'fired':>5} {'reach':>5} | alive: {'b med':>7} {'maxy med':>8}")
    for pt in points:
        fired = int(((pt["since"] < prev_since + (pt["step"] - prev_step) * o["batch_size"]) & final_dead).sum()) \
            if prev_since is not None else None
        row = {"step": pt["step"], "selected": int(pt["selected"].sum()), "reachable": int((pt["max_y"] > 0).sum()),
               "stale": int((pt["since"] > window).sum()),
               "dead_b_median": float(np.median(pt["b"][final_dead])), "dead_max_y_median": float(np.median(pt["max_y"][final_dead])),
               "dead_a_median": float(np.median(pt["a"][final_dead])), "dead_fired_since_previous": fired,
               "dead_reachable": int((pt["max_y"][final_dead] > 0).sum()),
               "alive_b_median": float(np.median(pt["b"][~final_dead])), "alive_max_y_median": float(np.median(pt["max_y"][~final_dead]))}
        summary.append(row)
        print(f"{row['step']:>6} {row['selected']:>4} {row['reachable']:>5} {row['stale']:>5} | {row['dead_b_median']:>7.3f} "
              f"{row['dead_max_y_median']:>8.3f} {row['dead_a_median']:>6.3f} {str(fired):>5} {row['dead_reachable']:>5} | "
              f"{row['alive_b_median']:>7.3f} {row['alive_max_y_median']:>8.3f}")
        prev_since, prev_step = pt["since"], pt["step"]
    # when each eventually-dead latent was last selected on the probe, in checkpoints
    last_sel = np.full(m, -1)
    for pt in points:
        last_sel[pt["selected"]] = pt["step"]
    hist = np.bincount(np.searchsorted([p["step"] for p in points], last_sel[final_dead].clip(min=0)), minlength=len(points))
    rare = frequencies(feats, enc, pre, b, k, a.frequency_tokens, seed) if a.frequency_tokens > 0 else None
    if rare:
        print(f"final model on {rare['tokens']} fresh tokens: never fired {rare['never']}, fired less than once per 100k tokens "
              f"{rare['below_1e-5']}, less than once per 16,384 {rare['below_1/16384']}")
    res = {"run": a.run, "k": k, "window_tokens": window, "final_dead": int(final_dead.sum()), "final_frequencies": rare,
           "last_selected_on_probe_step_histogram": {str(points[i]["step"]): int(c) for i, c in enumerate(hist) if c},
           "points": summary}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print("eventually dead latents, last selected on the probe at step:", res["last_selected_on_probe_step_histogram"])


if __name__ == "__main__":
    main()
