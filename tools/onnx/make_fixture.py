#!/usr/bin/env python3
"""Builds the ONNX test fixture of Engine.Onnx: a tiny causal transformer with seeded random weights,
exported by torch.onnx.export, plus torch's own references (token ids from a real SentencePiece
tokenizer, hidden states at every hook, logits, and the losses `gba eval --model` reports).

    /usr/bin/python3 tools/onnx/make_fixture.py            # rewrites tools/onnx/fixture/ (committed)
    /usr/bin/python3 tools/onnx/make_fixture.py --size large --out DIR   # d=512, 6 blocks, for throughput (not committed)

Needs Debian's python3-torch, python3-numpy, python3-sentencepiece and python3-onnx (apt-get install -y).
The tokenizer is trained on text rebuilt from ../shared/data/use-lite-moby-resid1-40k.tokens.tsv (Moby-Dick,
public domain); the fixture keeps the first lines of that text as docs.txt so nothing else is needed later.

The tiny model is trained for a few hundred steps on that text (seeded), so that ablating a hook costs loss.
The model: token + learned position embeddings, pre-LayerNorm blocks (causal-mask attention, GELU MLP,
residual adds), final LayerNorm, untied LM head. Batch and sequence axes are dynamic in the export.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import onnx
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {
    # vocab comes from the tokenizer; ctx is the longest sequence the position table covers.
    "tiny": dict(d=32, heads=2, blocks=2, ctx=64),
    "large": dict(d=512, heads=8, blocks=6, ctx=256),
}


class Attention(nn.Module):
    def __init__(self, d, heads, ctx):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        # Sliced to [T, T] at run time, so the export keeps a dynamic sequence axis (as GPT-2 does).
        self.register_buffer("causal", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        hd = d // self.heads
        q = q.view(b, t, self.heads, hd).transpose(1, 2)
        k = k.view(b, t, self.heads, hd).transpose(1, 2)
        v = v.view(b, t, self.heads, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(~self.causal[:t, :t], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class Mlp(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, 4 * d)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * d, d)

    def forward(self, x, tap):
        return self.proj(tap("mlp_act", self.act(self.fc(x))))


class Block(nn.Module):
    def __init__(self, d, heads, ctx):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads, ctx)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = Mlp(d)

    def forward(self, x, tap):
        x = tap("resid_mid", x + self.attn(self.ln1(x)))
        return tap("resid_post", x + self.mlp(self.ln2(x), tap))


class TinyLM(nn.Module):
    """`tap(name, tensor)` sees (and may replace) every hook point; the export uses the identity."""

    def __init__(self, vocab, d, heads, blocks, ctx):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([Block(d, heads, ctx) for _ in range(blocks)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids, tap=None):
        tap = tap or (lambda name, x: x)
        t = ids.shape[1]
        pos = torch.arange(t, dtype=torch.long, device=ids.device)
        x = tap("embed", self.wte(ids) + self.wpe(pos))
        for i, block in enumerate(self.blocks):
            x = block(x, lambda name, v, i=i: tap(f"blocks.{i}.{name}", v))
        return self.head(self.ln_f(x))


def build_model(vocab, size, seed):
    torch.manual_seed(seed)
    cfg = SIZES[size]
    model = TinyLM(vocab, cfg["d"], cfg["heads"], cfg["blocks"], cfg["ctx"])
    # Random LayerNorm affines so the fixture exercises them (they start at 1 and 0).
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return model.eval()


def moby_lines(tsv):
    """The text behind the shared token dump: one line per sentence, SentencePiece's '▁' as a space."""
    sentences = {}
    with open(tsv, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        cs, cp = header.index("sentence"), header.index("piece")
        for line in f:
            cols = line.rstrip("\n").split("\t")
            sentences.setdefault(int(cols[cs]), []).append(cols[cp])
    return [" ".join("".join(p).replace("\u2581", " ").split()) for _, p in sorted(sentences.items())]


def train_tokenizer(lines, prefix, vocab):
    if hasattr(spm, "set_random_generator_seed"):
        spm.set_random_generator_seed(1)
    text = prefix + ".train.txt"
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    # identity normalisation: Microsoft.ML.Tokenizers applies SentencePiece's whitespace handling only.
    spm.SentencePieceTrainer.train(input=text, model_prefix=prefix, vocab_size=vocab, model_type="unigram",
                                   character_coverage=1.0, normalization_rule_name="identity",
                                   bos_id=1, eos_id=2, unk_id=0, pad_id=-1, num_threads=1)
    os.remove(text)
    os.remove(prefix + ".vocab")
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def train_briefly(model, sp, lines, steps, seed):
    """A few hundred AdamW steps on the packed text, so the hooks matter to the loss (a random model's CE sits at
    ln(vocab) whatever is ablated, and loss recovered would be noise)."""
    stream = torch.tensor([t for l in lines for t in sp.encode(l)], dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    model.train()
    for _ in range(steps):
        start = torch.randint(0, len(stream) - 33, (16,), generator=g)
        batch = torch.stack([stream[s:s + 33] for s in start.tolist()])
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"trained {steps} steps: last batch CE {loss.item():.3f}")
    return model.eval()


def truncate_rows(sp, docs, context, bos):
    """`gba harvest --text --truncate --prepend-bos`: one row per document, its first tokens; shorter documents are skipped."""
    rows = []
    for doc in docs:
        ids = sp.encode(doc)
        ids = ([bos] if bos is not None else []) + ids
        if len(ids) >= context:
            rows.append(ids[:context])
    return np.array(rows, dtype=np.int64)


def onnx_hooks(path, blocks):
    """The exported tensor name of every torch hook point, found by the module scope torch gives each node:
    the input of each block's LayerNorms and of the MLP's output projection."""
    graph = onnx.load(path).graph
    by_name = {n.name: n for n in graph.node}

    def first_input(scope, op):
        hits = [n for n in graph.node if n.name.startswith(scope) and n.op_type == op]
        if not hits:
            sys.exit(f"no {op} node under scope {scope}: the exporter named nodes differently; update onnx_hooks")
        return hits[0].input[0]

    hooks = {"embed": first_input("/blocks.0/ln1/", "LayerNormalization")}
    for i in range(blocks):
        hooks[f"blocks.{i}.resid_mid"] = first_input(f"/blocks.{i}/ln2/", "LayerNormalization")
        hooks[f"blocks.{i}.mlp_act"] = first_input(f"/blocks.{i}/mlp/proj/", "MatMul")
        nxt = f"/blocks.{i + 1}/ln1/" if i + 1 < blocks else "/ln_f/"
        hooks[f"blocks.{i}.resid_post"] = first_input(nxt, "LayerNormalization")
    assert by_name  # the graph has named nodes
    return hooks


def cross_entropy(logits, ids):
    """Mean next-token CE over every position but the last (natural log)."""
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, v), ids[:, 1:].reshape(-1)).item()


def kl(clean, other):
    """Mean over every position of KL(p_clean || p_other), summed over the vocabulary."""
    p = F.log_softmax(clean.double(), -1)
    q = F.log_softmax(other.double(), -1)
    return (p.exp() * (p - q)).sum(-1).mean().item()


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset, blobs = 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def random_sae(d, d_sae, seed, out_dir, hook):
    """A SAELens-layout ReLU SAE with seeded random weights: a non-trivial reconstruction to splice in."""
    g = torch.Generator().manual_seed(seed)
    w_dec = torch.randn(d_sae, d, generator=g)
    w_dec = w_dec / w_dec.norm(dim=1, keepdim=True)
    w_enc = w_dec.t().clone() * 0.8 + 0.05 * torch.randn(d, d_sae, generator=g)
    b_enc = 0.1 * torch.randn(d_sae, generator=g)
    b_dec = 0.1 * torch.randn(d, generator=g)
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "sae_weights.safetensors"),
                      {"W_enc": w_enc, "b_enc": b_enc, "W_dec": w_dec, "b_dec": b_dec}, {"format": "pt"})
    cfg = {"architecture": "standard", "d_in": d, "d_sae": d_sae, "dtype": "float32", "apply_b_dec_to_input": True,
           "normalize_activations": "none", "hook_name": hook, "metadata": {"hook_name": hook, "model_name": "tiny"}}
    with open(os.path.join(out_dir, "cfg.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    def reconstruct(x):
        f = torch.relu((x - b_dec) @ w_enc + b_enc)
        return f @ w_dec + b_dec

    return reconstruct


def export(model, path, ids):
    torch.onnx.export(model, (ids,), path, input_names=["input_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
                      opset_version=17, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=SIZES, default="tiny")
    ap.add_argument("--out", default=os.path.join(HERE, "fixture"))
    ap.add_argument("--tokens-tsv", default=os.path.join(HERE, "..", "..", "..", "shared", "data", "use-lite-moby-resid1-40k.tokens.tsv"))
    ap.add_argument("--vocab", type=int, default=320)
    ap.add_argument("--docs", type=int, default=400, help="lines of text kept as docs.txt")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--save-torch", action="store_true", help="also save SIZE.pt (weights and hook names) for tools/onnx/throughput.sh")
    ap.add_argument("--train-steps", type=int, default=400, help="AdamW steps on the text before export (tiny only)")
    args = ap.parse_args()
    if args.size != "tiny" and args.out == ap.get_default("out"):
        ap.error(f"--size {args.size} needs --out DIR: only the tiny model is committed")
    torch.set_num_threads(1)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    lines = moby_lines(args.tokens_tsv)
    sp = train_tokenizer(lines, os.path.join(out, "tokenizer"), args.vocab)
    docs = [l for l in lines if l][: args.docs]
    with open(os.path.join(out, "docs.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(docs) + "\n")

    model = build_model(sp.get_piece_size(), args.size, args.seed)
    if args.size == "tiny":
        model = train_briefly(model, sp, lines, args.train_steps, args.seed)
    cfg = SIZES[args.size]
    path = os.path.join(out, f"{args.size}.onnx")
    export(model, path, torch.zeros(2, 8, dtype=torch.long))
    if args.save_torch:
        torch.save({"state_dict": model.state_dict(), "size": args.size, "vocab": sp.get_piece_size(),
                    "hooks": onnx_hooks(path, cfg["blocks"])}, os.path.join(out, f"{args.size}.pt"))
    if args.size != "tiny":
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB), vocab {sp.get_piece_size()}")
        return

    context = 16
    ids = torch.from_numpy(truncate_rows(sp, docs, context, sp.bos_id())[:4])
    np.save(os.path.join(out, "token_ids.npy"), ids.numpy())
    hooks = onnx_hooks(path, cfg["blocks"])
    ref = os.path.join(out, "ref")
    os.makedirs(ref, exist_ok=True)

    cache = {}
    with torch.no_grad():
        logits = model(ids, lambda name, x: cache.setdefault(name, x))
        np.save(os.path.join(ref, "logits.npy"), logits.numpy())
        for name, x in cache.items():
            np.save(os.path.join(ref, f"{name}.npy"), x.numpy().astype(np.float32))

        splice_hook = "blocks.0.resid_post"
        onnx_name = hooks[splice_hook]
        sae = random_sae(cfg["d"], 2 * cfg["d"], args.seed + 1, os.path.join(out, "sae"), onnx_name)

        def patched(fn):
            return model(ids, lambda name, x: fn(x) if name == splice_hook else x)

        identity = patched(lambda x: x.clone())
        zero = patched(torch.zeros_like)
        spliced = patched(sae)
        ce_clean, ce_zero, ce_sae = cross_entropy(logits, ids), cross_entropy(zero, ids), cross_entropy(spliced, ids)
        losses = {
            "hook": onnx_name, "torch_hook": splice_hook,
            "ce_clean": ce_clean, "ce_identity": cross_entropy(identity, ids), "ce_zero_ablated": ce_zero,
            "kl_identity": kl(logits, identity), "kl_zero_ablated": kl(logits, zero),
            "ce_sae": ce_sae, "kl_sae": kl(logits, spliced),
            "loss_recovered_sae": (ce_zero - ce_sae) / (ce_zero - ce_clean),
        }

    meta = {
        "model": os.path.basename(path), "input": "input_ids", "logits": "logits", "vocab": sp.get_piece_size(),
        "d_model": cfg["d"], "blocks": cfg["blocks"], "heads": cfg["heads"], "seed": args.seed,
        "torch": torch.__version__, "onnx_opset": 17,
        "tokens": {"file": "token_ids.npy", "text": "docs.txt", "tokenizer": "tokenizer.model", "context": context,
                   "prepend_bos": True, "packing": "truncate", "rows": int(ids.shape[0])},
        "hooks": {name: {"onnx": hooks[name], "file": f"ref/{name}.npy", "shape": list(cache[name].shape)} for name in hooks},
        "losses": losses,
    }
    with open(os.path.join(out, "fixture.json"), "w") as f:
        json.dump(meta, f, indent=2)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(f"wrote {out}: {total / 1e3:.0f} kB; losses {json.dumps(losses)}")


if __name__ == "__main__":
    main()
