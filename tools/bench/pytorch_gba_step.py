#!/usr/bin/python3
"""The PyTorch peer: one GBA training step, written densely the way public PyTorch SAE trainers do.

Tied weights W[M, d] with unit rows, per-neuron output scale a[M], centring bias b_pre[d], per-neuron
bias b[M] (a firing threshold, never trained by the optimizer: GBA moves it):
    z    = (x - b_pre) @ W.T                 dense B x M pre-activations
    gate = (z + b > 0)                       JumpReLU gate
    f    = a * z * gate
    xhat = f @ W + b_pre                     dense decoder (tied)
    loss = 0.5 * ((xhat - x) ** 2).sum(1).mean()
backward, AdamW on W, a, b_pre, rows of W renormalised, and the GBA buffer statistics (count of
z + b > 0 per neuron, max of z + b per neuron). Reports tokens/s as JSON on stdout.

Run with Debian's torch (/usr/bin/python3, apt-get install python3-torch) and OPENBLAS_CORETYPE=SkylakeX
(PyTorch's CPU GEMM goes through OpenBLAS there, which misdetects this virtual Xeon otherwise).
"""
import argparse
import json
import os
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--neurons", type=int, default=16384)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up step)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    d, m, batch = args.d, args.neurons, args.batch

    w = torch.randn(m, d)
    w /= w.norm(dim=1, keepdim=True)
    w.requires_grad_(True)
    a = torch.ones(m, requires_grad=True)
    b_pre = torch.zeros(d, requires_grad=True)
    b = torch.full((m,), -0.05)  # GBA bias: updated from the statistics, not by AdamW
    opt = torch.optim.AdamW([w, a, b_pre], lr=1e-3, weight_decay=0.0)
    fire_count = torch.zeros(m, dtype=torch.int64)
    max_pre = torch.full((m,), float("-inf"))
    x_all = torch.randn(args.steps + 1, batch, d) / d ** 0.5

    def step(x):
        z = (x - b_pre) @ w.t()
        pre = z + b
        gate = pre > 0
        f = a * z * gate
        xhat = f @ w + b_pre
        loss = 0.5 * ((xhat - x) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            w.div_(w.norm(dim=1, keepdim=True))
            fire_count.add_(gate.sum(0))
            torch.maximum(max_pre, pre.detach().max(0).values, out=max_pre)
        return loss.item()

    step(x_all[0])
    times = []
    for s in range(1, args.steps + 1):
        t0 = time.perf_counter()
        loss = step(x_all[s])
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "peer": "pytorch-dense-gba-step",
        "torch": torch.__version__,
        "threads": args.threads,
        "d": d, "neurons": m, "batch": batch,
        "steps": args.steps,
        "step_seconds_median": med,
        "tokens_per_s": batch / med,
        "loss": loss,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"),
    }))


if __name__ == "__main__":
    main()
