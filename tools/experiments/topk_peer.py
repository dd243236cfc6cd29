#!/usr/bin/python3
"""An independent PyTorch TopK SAE with the peers' recipe, on the s = 3/20 frequency mixture, with a trace.

Why it exists: issue 11's acceptance asks AuxK to keep TopK k = 30's latents alive on the mixture, and the
engine's TopK leaves 0.79 of them dead with AuxK on. This script answers "is that our bug, or what the
peers' own recipe does on this data?" by training the peers' recipe written from their code's behaviour
(EleutherAI/sparsify `sparse_coder.py`/`trainer.py`, openai/sparse_autoencoder `model.py`/`loss.py`; read
as reference, nothing copied):

- untied encoder with nn.Linear's default init and b_enc = 0, decoder = encoder rows scaled to unit norm;
- b_dec = the mean of the first batch (sparsify's trainer), subtracted before the encoder;
- Adam (no weight decay), lr = 2e-4 / sqrt(M / 2^14) (sparsify's scaling), 1,000 warm-up steps then a
  linear decay to 0 (sparsify's get_linear_schedule_with_warmup);
- decoder gradient made orthogonal to its rows, rows renormalised after every step;
- loss FVU = |x - x_hat|^2 / total variance of the batch; AuxK (Gao et al.; sparsify before June 2024
  and OpenAI): per token the k_aux = d/2 largest post-ReLU pre-activations of the dead latents
  reconstruct the detached residual, scaled by min(#dead / k_aux, 1), coefficient 1/32;
- the TopK gradient is gated by the ReLU (autograd of relu-then-topk: OpenAI, and sparsify before its
  March 2025 fused encoder); `--encoder-grad straight` is that fused encoder's backward instead, which
  passes the gradient to every selected latent, also those whose value the ReLU set to 0, and none
  from AuxK to the encoder.

`--aux-pre-relu` is a variant no peer ships (AuxK over the dead latents' pre-ReLU values), to test what
would revive latents whose pre-activation is negative on every token. `--tied`, `--lr`, `--schedule
constant`, `--encoder-init unit` and `--keep-parallel-gradient` move the recipe towards the engine's.

The mixture has the engine's law (Engine/Synthetic): n unit Gaussian features in d, each token exactly s
distinct features chosen uniformly (s = 3 or 20 by a fair coin), magnitudes U(0.5, 1.5), no noise;
`--normalize pertoken` (the engine's default) scales every token to unit norm, `none` is sparsify's.

    /usr/bin/python3 tools/experiments/topk_peer.py --k 30 --seed 1 --out /tmp/peer-k30-s1.json
    /usr/bin/python3 tools/experiments/topk_peer.py summarize /tmp/peer-*.json docs/experiments/mixture-baselines-peer.json

The JSON has the final metrics (FRR@0.8/0.9 over decoder rows, dead fraction on 16,384 held-out tokens,
FVU, L0) and a trace every --trace-every steps: FRR, dead fraction (no firing on the 16,384 held-out tokens), the fraction
AuxK treats as dead (no firing in the last --dead-tokens training tokens), and per latent the largest
pre-ReLU pre-activation over 4,096 fixed probe tokens, b_enc and the step it last fired (value > 0).
"""
import argparse
import json
import math
import time

import torch


def mixture(n, d, seed):
    g = torch.Generator().manual_seed(10_000 + seed)
    v = torch.randn(n, d, generator=g, dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).float()


def tokens(v, rows, g, s_lo=3, s_hi=20, normalize="pertoken"):
    n = v.shape[0]
    s = torch.where(torch.rand(rows, generator=g) < 0.5, s_hi, s_lo)
    order = torch.rand(rows, n, generator=g).argsort(dim=1)       # a uniform random order of the features per token
    take = torch.arange(n)[None, :] < s[:, None]                   # the first s of it: s distinct features
    c = torch.zeros(rows, n)
    mags = 0.5 + torch.rand(rows, n, generator=g)
    c.scatter_(1, order, take.float() * mags)
    x = c @ v
    if normalize == "pertoken":
        x = x / x.norm(dim=1, keepdim=True)
    return x


class Sae(torch.nn.Module):
    def __init__(self, d, m, tied, unit_encoder=False):
        super().__init__()
        enc = torch.nn.Linear(d, m)
        self.tied = tied
        w0 = enc.weight.data.clone()
        # --encoder-init unit: the encoder starts as the unit-norm decoder (the engine's untied start)
        self.W_enc = torch.nn.Parameter(w0 / w0.norm(dim=1, keepdim=True) if unit_encoder else w0)
        self.b_enc = torch.nn.Parameter(torch.zeros(m))
        w = enc.weight.data.clone()
        self.W_dec = torch.nn.Parameter(w / w.norm(dim=1, keepdim=True))
        if tied:                                                    # the engine's tied default: one matrix
            self.W_enc = None
        self.b_dec = torch.nn.Parameter(torch.zeros(d))

    def enc_weight(self):
        return self.W_dec if self.tied else self.W_enc

    def pre(self, x):
        return (x - self.b_dec) @ self.enc_weight().T + self.b_enc


def train(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    n, d, m, k, batch = a.features, a.dim, a.d_sae, a.k, a.batch
    v = mixture(n, d, a.seed)
    g = torch.Generator().manual_seed(a.seed)
    probe = tokens(v, 4096, torch.Generator().manual_seed(777 + a.seed), normalize=a.normalize)
    evalx = tokens(v, 16384, torch.Generator().manual_seed(999 + a.seed), normalize=a.normalize)
    steps = a.tokens // batch
    sae = Sae(d, m, a.tied, a.encoder_init == "unit")
    lr = a.lr if a.lr > 0 else 2e-4 / math.sqrt(m / 2 ** 14)
    opt = torch.optim.Adam([p for p in sae.parameters() if p is not None], lr=lr)
    warm = a.warmup

    def factor(step):
        if a.schedule == "constant":
            return 1.0
        if step < warm:
            return step / max(1, warm)
        return max(0.0, (steps - step) / max(1, steps - warm))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    dead_tokens = a.dead_tokens if a.dead_tokens > 0 else a.tokens // 10
    since = torch.zeros(m, dtype=torch.long)
    last_fired = torch.full((m,), -1, dtype=torch.long)
    k_aux = d // 2
    trace = []
    t0 = time.time()
    for step in range(steps + 1):
        if step % a.trace_every == 0 or step == steps:
            trace.append(snapshot(sae, v, probe, evalx, k, step, last_fired))
            trace[-1]["window_dead"] = float((since >= dead_tokens).float().mean())
        if step == steps:
            break
        x = tokens(v, batch, g, normalize=a.normalize)
        if step == 0:
            with torch.no_grad():
                sae.b_dec.copy_(x.mean(0))
        pre = sae.pre(x)
        relu = pre.clamp(min=0)
        vals, idx = relu.topk(k, dim=1, sorted=False)
        if a.encoder_grad == "straight":
            sel = pre.gather(1, idx)
            vals = sel + (vals - sel).detach()                     # value relu(y), gradient straight to y
        x_hat = torch.zeros(batch, m).scatter(1, idx, vals) @ sae.W_dec + sae.b_dec
        e = x - x_hat
        total_var = (x - x.mean(0)).pow(2).sum()
        loss = e.pow(2).sum() / total_var
        dead = since >= dead_tokens
        nd = int(dead.sum())
        if a.aux_alpha > 0 and nd > 0:
            ka = min(k_aux, nd)
            src = pre if a.aux_pre_relu else relu
            if a.encoder_grad == "straight" and not a.aux_pre_relu:
                src = src.detach()                                   # the fused encoder drops AuxK's encoder gradient
            cand = torch.where(dead[None, :], src, torch.full_like(src, -math.inf))
            av, ai = cand.topk(ka, dim=1, sorted=False)
            e_hat = torch.zeros(batch, m).scatter(1, ai, av) @ sae.W_dec
            aux = min(nd / k_aux, 1.0) * (e_hat - e.detach()).pow(2).sum() / total_var
            loss = loss + a.aux_alpha * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            gd, w = sae.W_dec.grad, sae.W_dec.data
            if not a.tied and not a.keep_parallel_gradient:
                gd -= (gd * w).sum(1, keepdim=True) * w
        opt.step()
        sched.step()
        with torch.no_grad():
            sae.W_dec.data /= sae.W_dec.data.norm(dim=1, keepdim=True)
            fired = torch.zeros(m, dtype=torch.bool)
            fired[idx[vals.detach() > 0]] = True
            since += batch
            since[fired] = 0
            last_fired[fired] = step
    final = trace[-1]
    return {"args": vars(a), "lr": lr, "steps": steps, "seconds": time.time() - t0,
            "dead_tokens": dead_tokens,
            "final": {kk: final[kk] for kk in ("frr08", "frr09", "dead", "window_dead", "fvu", "l0")}, "trace": trace}


@torch.no_grad()
def snapshot(sae, v, probe, evalx, k, step, last_fired):
    w = sae.W_dec
    cos = v @ (w / w.norm(dim=1, keepdim=True)).T
    best = cos.max(dim=1).values
    pre = sae.pre(evalx)
    vals, idx = pre.clamp(min=0).topk(k, dim=1)
    alive = torch.zeros(w.shape[0], dtype=torch.bool)
    alive[idx[vals > 0]] = True
    x_hat = torch.zeros_like(pre).scatter(1, idx, vals) @ w + sae.b_dec
    fvu = float((evalx - x_hat).pow(2).sum() / (evalx - evalx.mean(0)).pow(2).sum())
    pmax = sae.pre(probe).max(dim=0).values
    return {"step": step, "frr08": float((best > 0.8).float().mean()), "frr09": float((best > 0.9).float().mean()),
            "dead": float(1 - alive.float().mean()), "fvu": fvu, "l0": float((vals > 0).float().sum(1).mean()),
            "alive": alive.tolist(), "max_pre": [round(float(p), 5) for p in pmax],
            "b_enc": [round(float(b), 5) for b in sae.b_enc], "last_fired": last_fired.tolist()}


def summarize(paths, out):
    """One JSON of several runs' final metrics and their traces without the per-latent arrays (the docs' copy)."""
    runs = []
    for path in paths:
        with open(path) as f:
            r = json.load(f)
        keep = ("step", "frr08", "frr09", "dead", "window_dead", "fvu", "l0")
        trace = [{kk: t.get(kk) for kk in keep} | {"reachable": sum(1 for y in t["max_pre"] if y > 0)} for t in r["trace"]]
        runs.append({"file": path.rsplit("/", 1)[-1], "args": r["args"], "lr": r["lr"], "dead_tokens": r.get("dead_tokens"),
                     "final": {"window_dead": None} | r["final"] | {"reachable": trace[-1]["reachable"]}, "trace": trace})
    with open(out + ".tmp", "w") as f:
        json.dump({"what": __doc__.split("\n")[0], "runs": runs}, f, indent=1)
    import os
    os.replace(out + ".tmp", out)
    for r in runs:
        fi = r["final"]
        print(f"{r['file']:40s} FRR {fi['frr08']:.3f}/{fi['frr09']:.3f} dead {fi['dead']:.3f} AuxK-dead {fi.get('window_dead')} "
              f"reachable {fi['reachable']} FVU {fi['fvu']:.4f} L0 {fi['l0']:.1f}")


def main():
    import sys
    if len(sys.argv) > 1 and sys.argv[1] == "summarize":   # summarize RUN.json... OUT.json
        return summarize(sys.argv[2:-1], sys.argv[-1])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--k", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--features", type=int, default=128)
    p.add_argument("--dim", type=int, default=42)
    p.add_argument("--d-sae", type=int, default=512)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--tokens", type=int, default=5_000_000)
    p.add_argument("--normalize", choices=["pertoken", "none"], default="pertoken")
    p.add_argument("--lr", type=float, default=0.0, help="0: sparsify's 2e-4 / sqrt(M / 2^14)")
    p.add_argument("--schedule", choices=["sparsify", "constant"], default="sparsify")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--aux-alpha", type=float, default=1 / 32)
    p.add_argument("--aux-pre-relu", action="store_true")
    p.add_argument("--dead-tokens", type=int, default=0, help="0: a tenth of the budget (the engine's default)")
    p.add_argument("--encoder-grad", choices=["gated", "straight"], default="gated")
    p.add_argument("--tied", action="store_true")
    p.add_argument("--encoder-init", choices=["linear", "unit"], default="linear")
    p.add_argument("--keep-parallel-gradient", action="store_true", help="do not remove the decoder gradient along its rows (the engine)")
    p.add_argument("--trace-every", type=int, default=250)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    r = train(a)
    with open(a.out, "w") as f:
        json.dump(r, f)
    print(json.dumps({"out": a.out, "seconds": round(r["seconds"], 1), **r["final"]}))


if __name__ == "__main__":
    main()
