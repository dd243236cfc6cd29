#!/usr/bin/env python3
"""The PyTorch peer of `gba harvest` for tools/onnx/throughput.sh: runs the same model (SIZE.pt from
make_fixture.py --save-torch) over the same token ids, captures one hook with the model's own tap, and writes
the activations [N, d] to a .npy file, as the harvest writes its shards. Prints one JSON line.

    /usr/bin/python3 tools/onnx/torch_harvest.py --weights DIR/large.pt --token-ids ids.npy --hook blocks.5.resid_post \
        --out acts.npy [--batch 8] [--threads 1]

Timed like the harvest: from loading the weights to the last row written (interpreter start-up excluded).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixture  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--token-ids", required=True)
    ap.add_argument("--hook", required=True, help="torch hook name, e.g. blocks.5.resid_post")
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ids = torch.from_numpy(np.load(args.token_ids).astype(np.int64))

    start = time.perf_counter()
    saved = torch.load(args.weights)
    model = make_fixture.build_model(saved["vocab"], saved["size"], seed=0)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    s, t = ids.shape
    out = None
    with torch.no_grad():
        for b in range(0, s, args.batch):
            captured = {}
            model(ids[b:b + args.batch], lambda name, x: captured.setdefault(name, x) if name == args.hook else x)
            h = captured[args.hook].reshape(-1, captured[args.hook].shape[-1]).numpy()
            if out is None:
                out = np.lib.format.open_memmap(args.out, mode="w+", dtype=np.float32, shape=(s * t, h.shape[1]))
            out[b * t:b * t + h.shape[0]] = h
    out.flush()
    del out
    seconds = time.perf_counter() - start
    print(json.dumps({"tokens": s * t, "seconds": seconds, "tokens_per_second": s * t / seconds, "threads": args.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
