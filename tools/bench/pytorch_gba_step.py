#!/usr/bin/python3
"""The PyTorch peers: one GBA training step, written densely (as public PyTorch SAE trainers do) or
sparsely (as a careful CPU user would), on the same weights and data.

Tied weights W[M, d] with unit rows, per-neuron output scale a[M], centring bias b_pre[d], per-neuron
bias b[M] (a firing threshold, never trained by the optimizer: GBA moves it):
    z    = (x - b_pre) @ W.T                 dense B x M pre-activations (both peers: the one dense product)
    gate = (z + b > 0)                       JumpReLU gate
    f    = a * z * gate
    xhat = f @ W + b_pre                     decoder (tied)
    loss = 0.5 * ((xhat - x) ** 2).sum(1).mean()
backward, AdamW on W, a, b_pre, rows of W renormalised, and the GBA buffer statistics (count of
z + b > 0 per neuron, max of z + b per neuron).

--mode dense: autograd through the dense graph: the decoder and every gradient are B x M x d GEMMs.
--mode sparse: z without autograd, then only the active (token, neuron) entries: the decoder by
    embedding_bag over each token's active rows of W, and the gradients by hand from the same entries
    (index_select gathers, index_add_ scatters), in chunks of entries so memory stays bounded:
      e = (xhat - x) / B;  g = e[t] . W[n];  grad a[n] += g z;  dz = g a[n]
      grad W[n] += f e[t] + dz xc[t];  grad b_pre = sum_t e_t - W^T (sum over entries of dz per neuron)
--mode check: both from the same state on the same batches for a few steps; fails (exit 1) unless the
    L0s are equal and the loss and every gradient entry agree to within TOLERANCE of the magnitude of the
    terms that make them (float32, two summation orders). The magnitude of an entry is the same sum taken
    over absolute values, the rounding of the operands carried along: e.g. for grad a[n] = sum_t g z with
    g = e_t . W[n] and e = (sum_n' f W[n'] + b_pre - x) / B, it is sum_t (|e|~ . |W[n]|) |z| where
    |e|~ = (sum_n' |f| |W[n']| + |b_pre| + |x|) / B. Rounding errors of a sum are bounded by a multiple of
    that magnitude whatever the order, so the check is as strict at an L0 of a few entries per token (where
    a gradient is a handful of terms that nearly cancel) as at a high one; a fixed tolerance relative to the
    largest entry was not (at a very low L0 it failed on rounding alone). A missing, doubled or wrongly
    signed term moves an entry by about its own size: 1/(number of terms) of the magnitude at least, far
    above TOLERANCE at these batch sizes. Gradients, not updated parameters: AdamW's first steps move
    each parameter by about lr * g / |g|, so a gradient entry near zero whose sign differs between two
    summation orders moves its parameter by up to 2 lr either way. After each step the sparse peer takes
    the dense peer's parameters and optimizer state, so every step is checked from one state.

b is set so that a fraction --l0-fraction of the pre-activations of the first batch fire (the L0 of the
GBA trainer being compared; the dense peer's cost does not depend on it, the sparse peer's does).
Reports tokens/s and the step's wall and process CPU seconds as JSON on stdout.

Run with Debian's torch (/usr/bin/python3, apt-get install python3-torch) and OPENBLAS_CORETYPE=SkylakeX
where OpenBLAS misdetects the CPU (PyTorch's CPU GEMM goes through OpenBLAS there).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# Active entries handled at once by the sparse backward: 2^16 x d floats per gathered block.
CHUNK = 1 << 16
# --mode check: the largest difference allowed between the peers, as a fraction of the terms' magnitude
# (about 64 float32 epsilons: the rounding of sums of up to a few thousand terms in any order, in practice).
TOLERANCE = 1e-5


class State:
    """Weights, optimizer and GBA statistics of one peer; two peers built with the same seed are equal."""

    def __init__(self, d, m, seed, b_value):
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(m, d, generator=g)
        w /= w.norm(dim=1, keepdim=True)
        self.w = w.requires_grad_(True)
        self.a = torch.ones(m, requires_grad=True)
        self.b_pre = torch.zeros(d, requires_grad=True)
        self.b = torch.full((m,), b_value)  # GBA bias: updated from the statistics, not by AdamW
        self.opt = torch.optim.AdamW([self.w, self.a, self.b_pre], lr=1e-3, weight_decay=0.0)
        self.fire_count = torch.zeros(m, dtype=torch.int64)
        self.max_pre = torch.full((m,), float("-inf"))
        self.keep_grads = False  # --mode check: keep the step's gradients for comparison
        self.grads = None

    def finish(self, pre_max, fired):
        """AdamW, renormalised rows, GBA statistics: the same in both peers."""
        if self.keep_grads:
            self.grads = [p.grad.clone() for p in (self.w, self.a, self.b_pre)]
        self.opt.step()
        with torch.no_grad():
            self.w.div_(self.w.norm(dim=1, keepdim=True))
            self.fire_count.add_(fired)
            torch.maximum(self.max_pre, pre_max, out=self.max_pre)


def dense_step(s, x):
    z = (x - s.b_pre) @ s.w.t()
    pre = z + s.b
    gate = pre > 0
    f = s.a * z * gate
    xhat = f @ s.w + s.b_pre
    loss = 0.5 * ((xhat - x) ** 2).sum(1).mean()
    s.opt.zero_grad(set_to_none=True)
    loss.backward()
    s.finish(pre.detach().max(0).values, gate.sum(0))
    return loss.item(), gate.sum().item() / x.shape[0]


def sparse_step(s, x):
    batch, d = x.shape
    m = s.w.shape[0]
    with torch.no_grad():
        w, a, b_pre = s.w, s.a, s.b_pre
        xc = x - b_pre
        z = xc @ w.t()                                   # the one dense product
        pre = z + s.b
        tok, neu = (pre > 0).nonzero(as_tuple=True)      # row-major: entries sorted by token
        zv = z[tok, neu]
        f = a[neu] * zv
        counts = torch.bincount(tok, minlength=batch)
        offsets = torch.cumsum(counts, 0) - counts
        xhat = F.embedding_bag(neu, w, offsets, mode="sum", per_sample_weights=f) + b_pre
        err = xhat - x
        loss = 0.5 * (err ** 2).sum(1).mean()
        e = err / batch
        grad_w = torch.zeros_like(w)
        grad_a = torch.zeros_like(a)
        dz_per_neuron = torch.zeros(m)
        for lo in range(0, tok.numel(), CHUNK):
            t, n = tok[lo:lo + CHUNK], neu[lo:lo + CHUNK]
            et, wn = e.index_select(0, t), w.index_select(0, n)
            g = (et * wn).sum(1)
            grad_a.index_add_(0, n, g * zv[lo:lo + CHUNK])
            dz = g * a.index_select(0, n)
            grad_w.index_add_(0, n, f[lo:lo + CHUNK, None] * et + dz[:, None] * xc.index_select(0, t))
            dz_per_neuron.index_add_(0, n, dz)
        s.w.grad, s.a.grad = grad_w, grad_a
        s.b_pre.grad = e.sum(0) - dz_per_neuron @ w
        fired = torch.bincount(neu, minlength=m)
        pre_max = pre.max(0).values
    s.finish(pre_max, fired)
    return loss.item(), tok.numel() / batch


def magnitudes(s, x):
    """The magnitude of the terms behind the loss and each gradient entry (see --mode check), from the state
    before the step: the same sums over absolute values, with the operands' own magnitudes carried along."""
    with torch.no_grad():
        batch = x.shape[0]
        w, a, b_pre = s.w.abs(), s.a.abs(), s.b_pre.abs()
        xc = x - s.b_pre
        z = xc @ s.w.t()
        gate = (z + s.b > 0).float()
        f = a * z.abs() * gate                            # |f| for the active entries, 0 elsewhere
        xhat = f @ w + b_pre                              # magnitude of xhat's terms
        e = (xhat + x.abs()) / batch                      # magnitude of e = (xhat - x) / B
        g = (e @ w.t()) * gate                            # of g = e_t . W[n], per active entry
        dz = g * a                                        # of dz = g a[n]
        grad_w = f.t() @ e + dz.t() @ xc.abs()
        grad_a = (g * z.abs()).sum(0)
        grad_b_pre = e.sum(0) + dz.sum(0) @ w
        # loss = 0.5 sum |r|^2 / B with r = xhat - x: a residual off by dr moves it by |r| dr, and |r| and dr
        # are both within the residual's magnitude B e, so (B e)^2 / B covers both (and the sum's own rounding).
        loss = (e * batch).pow(2).sum() / batch
        return loss.item(), (grad_w, grad_a, grad_b_pre)


def threshold_for(x, d, m, seed, l0_fraction):
    """The b that lets a fraction l0_fraction of the first batch's pre-activations fire (one value for all neurons)."""
    probe = State(d, m, seed, 0.0)
    with torch.no_grad():
        z = (x - probe.b_pre) @ probe.w.t()
        k = max(1, int(round(l0_fraction * z.numel())))
        return -torch.topk(z.flatten(), k).values[-1].item() + 1e-7


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["dense", "sparse", "check"], default="dense")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--neurons", type=int, default=16384)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--l0-fraction", type=float, default=0.003, help="share of pre-activations that fire")
    ap.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up step)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    d, m, batch = args.d, args.neurons, args.batch
    x_all = torch.randn(args.steps + 1, batch, d) / d ** 0.5
    b_value = threshold_for(x_all[0], d, m, args.seed, args.l0_fraction)

    if args.mode == "check":
        dense, sparse = State(d, m, args.seed, b_value), State(d, m, args.seed, b_value)
        dense.keep_grads = sparse.keep_grads = True
        worst = 0.0
        for s in range(args.steps + 1):
            loss_mag, grad_mags = magnitudes(dense, x_all[s])
            ld, l0d = dense_step(dense, x_all[s])
            ls, l0s = sparse_step(sparse, x_all[s])
            if l0d != l0s or abs(ld - ls) > TOLERANCE * loss_mag:
                print(f"step {s}: dense loss {ld} (L0 {l0d}), sparse loss {ls} (L0 {l0s}); "
                      f"allowed difference {TOLERANCE * loss_mag:.3g} (of the terms' magnitude {loss_mag:.6g})", file=sys.stderr)
                sys.exit(1)
            for name, p, q, mag in zip(("W", "a", "b_pre"), dense.grads, sparse.grads, grad_mags):
                diff = (p - q).abs()
                # An entry made of no terms (a neuron that fired nowhere) must be exactly zero in both.
                if bool((diff[mag == 0] != 0).any()):
                    print(f"step {s}: a gradient of {name} with no terms is not zero in both peers", file=sys.stderr)
                    sys.exit(1)
                rel = (diff[mag > 0] / mag[mag > 0]).max().item() if bool((mag > 0).any()) else 0.0
                worst = max(worst, rel)
                if rel > TOLERANCE:
                    print(f"step {s}: gradients of {name} differ by {rel:.3g} of their terms' magnitude (allowed {TOLERANCE:g})", file=sys.stderr)
                    sys.exit(1)
            with torch.no_grad():
                for p, q in ((dense.w, sparse.w), (dense.a, sparse.a), (dense.b_pre, sparse.b_pre)):
                    q.copy_(p)
                sparse.max_pre.copy_(dense.max_pre)
                sparse.fire_count.copy_(dense.fire_count)
            sparse.opt.load_state_dict(dense.opt.state_dict())
        print(json.dumps({"check": "sparse peer == dense peer", "steps": args.steps + 1, "loss": ld, "l0": l0d,
                          "worst_gradient_difference": worst, "tolerance": TOLERANCE}))
        return

    state = State(d, m, args.seed, b_value)
    step = dense_step if args.mode == "dense" else sparse_step
    step(state, x_all[0])
    times, cpu = [], []
    for s in range(1, args.steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        loss, l0 = step(state, x_all[s])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    print(json.dumps({
        "peer": f"pytorch-{args.mode}-gba-step",
        "torch": torch.__version__,
        "threads": args.threads,
        "d": d, "neurons": m, "batch": batch,
        "l0": l0, "l0_fraction": l0 / m,
        "steps": args.steps,
        "step_seconds_median": med,
        "step_cpu_seconds_median": statistics.median(cpu),
        "tokens_per_s": batch / med,
        "loss": loss,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"),
    }))


if __name__ == "__main__":
    main()
