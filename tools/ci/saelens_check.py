#!/usr/bin/env python3
"""Checks a gba export against SAELens 6's (or sparsify's) inference formulas, with numpy only.

    saelens_check.py --sae SAE_DIR --data ROWS.npy --codes CODES.safetensors [--eval EVAL.json] [--rows N]

SAE_DIR is what `gba train --out R` exported (R/sae, or R/sae/<hookpoint> for sparsify). The script reads
cfg.json and the safetensors weights with its own parser, computes every row's features and reconstruction
from the formulas below (float64), and compares them with the CSR codes `gba encode` wrote for the same rows
and with the FVU `gba eval --json` printed. It also checks what SAELens and SAEBench need of the file:
the 6.x metadata block, a hook name with a layer number, a model name, and unit-norm decoder rows where
the layout promises them (standard, jumprelu, matching_pursuit). Exit status 0 when every check passes.

Formulas (SAELens 6: sae_lens/saes/{sae,standard_sae,jumprelu_sae,topk_sae,matching_pursuit_sae}.py;
sparsify 1.3: sparsify/sparse_coder.py, fused_encoder.py):
  normalise:  none: x' = x;  constant_norm_rescale: x' = x * sqrt(d_in) / |x|, output divided back
  sae_in   = x' - b_dec (apply_b_dec_to_input)
  standard:  f = relu(sae_in @ W_enc + b_enc)
  jumprelu:  pre = sae_in @ W_enc + b_enc;  f = relu(pre) * (pre > threshold)
  topk:      pre = sae_in @ W_enc + b_enc (* |W_dec| per feature if rescale_acts_by_decoder_norm);
             the k largest pre kept, relu'd (decode divides by |W_dec| again in that case)
  matching_pursuit: r = sae_in; up to max_iterations times: i = argmax relu(r @ W_dec.T),
             v = relu(r . W_dec[i]), f[i] += v, r -= v W_dec[i]; stops when the support stops changing
             (stop_on_duplicate_support) or |r| < residual_threshold
  sparsify:  pre = relu((x - b_dec) @ encoder.weight.T + encoder.bias); the k largest kept
  decode:    x_hat = f @ W_dec + b_dec, then the normalisation undone
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        a = np.frombuffer(raw, dtype=DTYPES[info["dtype"]], count=(end - begin) // np.dtype(DTYPES[info["dtype"]]).itemsize, offset=base + begin)
        tensors[name] = a.reshape(info["shape"]).astype(np.float64 if info["dtype"].startswith("F") else a.dtype)
    return tensors, header.get("__metadata__", {})


class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, message):
        if not ok:
            self.items.append(message)
        return ok


def normalise(x, cfg):
    mode = cfg.get("normalize_activations", "none")
    if mode in ("none", "expected_average_only_in"):
        return x, (lambda y: y)
    if mode == "constant_norm_rescale":
        coeff = np.sqrt(x.shape[1]) / np.linalg.norm(x, axis=1, keepdims=True)
        return x * coeff, (lambda y: y / coeff)
    if mode == "layer_norm":
        mu = x.mean(axis=1, keepdims=True)
        std = (x - mu).std(axis=1, ddof=1, keepdims=True)
        return (x - mu) / (std + 1e-5), (lambda y: y * std + mu)
    raise SystemExit(f"normalize_activations {mode!r} is not one SAELens 6 has")


def topk_rows(pre, k):
    """The k largest per row (relu'd), others 0; and each row's gap between the k-th and (k+1)-th value."""
    order = np.argsort(-pre, axis=1, kind="stable")
    f = np.zeros_like(pre)
    rows = np.arange(pre.shape[0])[:, None]
    keep = order[:, :k]
    f[rows, keep] = np.maximum(pre[rows, keep], 0)
    kth = pre[rows[:, 0], order[:, k - 1]]
    nxt = pre[rows[:, 0], order[:, k]] if pre.shape[1] > k else np.full(pre.shape[0], -np.inf)
    # A selection between two nearly equal values (or at zero, where relu meets the cut) may round either way.
    margin = np.minimum(np.abs(kth - np.maximum(nxt, 0)), np.abs(kth - nxt))
    return f, margin


def encode_saelens(cfg, t, x):
    arch = cfg["architecture"]
    xn, undo = normalise(x, cfg)
    sae_in = xn - t["b_dec"] * (1.0 if cfg.get("apply_b_dec_to_input", True) else 0.0)
    if arch == "matching_pursuit":
        return matching_pursuit(cfg, t["W_dec"], sae_in), None, undo
    pre = sae_in @ t["W_enc"] + t["b_enc"]
    if arch == "standard":
        return np.maximum(pre, 0), np.abs(pre), undo
    if arch == "jumprelu":
        theta = t["threshold"]
        return np.maximum(pre, 0) * (pre > theta), np.minimum(np.abs(pre - theta), np.abs(pre)), undo
    if arch == "topk":
        norms = np.linalg.norm(t["W_dec"], axis=1)
        if cfg.get("rescale_acts_by_decoder_norm", False):
            pre = pre * norms
        f, margin = topk_rows(pre, int(cfg["k"]))
        return f, margin[:, None] * np.ones_like(f), undo
    raise SystemExit(f"architecture {arch!r}: not checked by this script")


def matching_pursuit(cfg, w_dec, sae_in):
    steps = cfg.get("max_iterations") or w_dec.shape[1]
    threshold = float(cfg.get("residual_threshold", 1e-2))
    stop_on_repeat = bool(cfg.get("stop_on_duplicate_support", True))
    r = sae_in.copy()
    acts = np.zeros((r.shape[0], w_dec.shape[0]))
    prev = acts != 0
    done = np.zeros(r.shape[0], dtype=bool)
    for _ in range(int(steps)):
        i = np.argmax(np.maximum(r @ w_dec.T, 0), axis=1)
        v = np.maximum(np.einsum("nd,nd->n", r, w_dec[i]), 0) * ~done
        acts[np.arange(r.shape[0]), i] += v
        r = r - v[:, None] * w_dec[i]
        support = acts != 0
        if stop_on_repeat:
            done |= (support == prev).all(axis=1)
            prev = support
        if threshold > 0:
            done |= np.linalg.norm(r, axis=1) < threshold
        if done.all():
            break
    return acts


def decode_saelens(cfg, t, f, undo):
    if cfg["architecture"] == "topk" and cfg.get("rescale_acts_by_decoder_norm", False):
        f = f / np.linalg.norm(t["W_dec"], axis=1)
    return undo(f @ t["W_dec"] + t["b_dec"])


def encode_sparsify(cfg, t, x):
    pre = np.maximum((x - t["b_dec"]) @ t["encoder.weight"].T + t["encoder.bias"], 0)
    f, margin = topk_rows(pre, int(cfg["k"]))
    return f, margin[:, None] * np.ones_like(f)


def read_csr(path, rows):
    t, meta = read_safetensors(path)
    indptr, indices, values = t["indptr"].astype(np.int64), t["indices"].astype(np.int64), t["values"]
    shape = json.loads(meta["shape"])
    dense = np.zeros((rows, shape[1]))
    for r in range(rows):
        s, e = indptr[r], indptr[r + 1]
        dense[r, indices[s:e]] = values[s:e]
    return dense


def fvu(x, x_hat):
    return float(((x - x_hat) ** 2).sum() / ((x - x.mean(axis=0)) ** 2).sum())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sae", required=True)
    p.add_argument("--data", required=True, help=".npy rows, the ones gba encode read")
    p.add_argument("--codes", required=True, help="gba encode's CSR safetensors for those rows")
    p.add_argument("--eval", help="gba eval --json's last line, saved, over the same rows")
    p.add_argument("--rows", type=int, default=0, help="compare the first N rows (default: all in the codes)")
    a = p.parse_args()
    bad = Failures()

    sparsify = os.path.exists(os.path.join(a.sae, "sae.safetensors"))
    with open(os.path.join(a.sae, "cfg.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    t, _ = read_safetensors(os.path.join(a.sae, "sae.safetensors" if sparsify else "sae_weights.safetensors"))
    x_all = np.load(a.data, mmap_mode="r")
    codes_t, codes_meta = read_safetensors(a.codes)
    rows = len(codes_t["indptr"]) - 1
    if a.rows:
        rows = min(rows, a.rows)
    x = np.asarray(x_all[:rows], dtype=np.float64)
    arch = "sparsify topk" if sparsify else cfg["architecture"]

    if sparsify:
        expected = {"encoder.weight", "encoder.bias", "W_dec", "b_dec"}
        bad.check(set(t) == expected, f"sparsify tensors {sorted(t)}: SparseCoder loads exactly {sorted(expected)} (strict)")
        f_ref, margin = encode_sparsify(cfg, t, x)
        x_hat = f_ref @ t["W_dec"] + t["b_dec"]
    else:
        meta = cfg.get("metadata", {})
        version = meta.get("sae_lens_version") or cfg.get("sae_lens_version")
        bad.check(version is not None and int(str(version).split(".")[0]) >= 6,
                  f"metadata.sae_lens_version {version!r}: without a 6.x version SAELens reads the config as pre-6.0 and drops the metadata block")
        hook = meta.get("hook_name")
        bad.check(hook is not None and re.search(r"\d+", hook) is not None,
                  f"metadata.hook_name {hook!r}: SAEBench takes the layer from its first number ('Could not determine hook layer')")
        bad.check(meta.get("model_name") is not None, "metadata.model_name missing: SAEBench cannot tell which model to load")
        expected = {"standard": {"W_enc", "b_enc", "W_dec", "b_dec"}, "jumprelu": {"W_enc", "b_enc", "W_dec", "b_dec", "threshold"},
                    "topk": {"W_enc", "b_enc", "W_dec", "b_dec"}, "matching_pursuit": {"W_dec", "b_dec"}}[arch]
        bad.check(set(t) == expected, f"{arch} tensors {sorted(t)}: SAELens' load_state_dict (strict) needs {sorted(expected)}")
        if arch != "topk":
            norms = np.linalg.norm(t["W_dec"], axis=1)
            live = norms > 0
            worst = float(np.abs(norms[live] - 1).max()) if live.any() else 0.0
            bad.check(worst <= 1e-5, f"{arch}: decoder rows not unit norm (max |norm - 1| = {worst:.2e}; SAEBench allows 1e-5)")
        f_ref, margin, undo = encode_saelens(cfg, t, x)
        x_hat = decode_saelens(cfg, t, f_ref, undo)

    f_gba = read_csr(a.codes, rows)
    bad.check(json.loads(codes_meta["shape"])[1] == f_ref.shape[1], f"codes have {json.loads(codes_meta['shape'])[1]} columns, the SAE {f_ref.shape[1]} features")
    scale = max(1.0, float(np.abs(f_ref).max()))
    diff = np.abs(f_gba - f_ref)
    tol = 1e-3 * (1.0 + np.abs(f_ref))
    off = diff > tol
    # A feature at its gate (pre within rounding of the threshold, or of the k-th value for TopK) may fall
    # either way in float32; anything else is a disagreement.
    if margin is not None:
        borderline = off & (margin < 1e-4 * scale)
    else:
        borderline = np.zeros_like(off)
    real = off & ~borderline
    bad.check(not real.any(), f"{arch}: {int(real.sum())} of {off.size} feature values differ from the formula "
                              f"(worst {float(diff[real].max()) if real.any() else 0:.3g} at row {int(np.argwhere(real)[0][0]) if real.any() else -1})")
    bad.check(int(borderline.sum()) <= max(2, off.size // 100000), f"{arch}: {int(borderline.sum())} gate decisions at the boundary, more than rounding explains")
    active = int((f_ref != 0).sum())
    bad.check(active >= rows, f"{arch}: only {active} active features over {rows} rows: nothing was compared")

    ours = fvu(x, x_hat)
    line = f"{arch:<16} {rows} rows  L0 {active / rows:.2f}  features max |diff| {float(diff.max()):.2e}  boundary flips {int(borderline.sum())}  FVU(formula) {ours:.6f}"
    if a.eval:
        with open(a.eval, encoding="utf-8") as f:
            reported = json.loads(f.read().strip().splitlines()[-1])
        bad.check(abs(reported["fvu"] - ours) <= 1e-4 * max(1.0, abs(ours)), f"{arch}: FVU from the formulas {ours:.6f}, gba eval {reported['fvu']:.6f}")
        bad.check(reported["tokens"] == rows, f"gba eval covered {reported['tokens']} rows, the codes {rows}")
        line += f"  gba eval {reported['fvu']:.6f}"
    print(line)
    for msg in bad.items:
        print(f"  FAIL {msg}", file=sys.stderr)
    return 1 if bad.items else 0


if __name__ == "__main__":
    sys.exit(main())
