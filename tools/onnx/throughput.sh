#!/usr/bin/env bash
# Harvest throughput: `gba harvest` (ONNX Runtime) against the same model in PyTorch on CPU, in one run, on the
# fixture-sized model and on a larger one (d = 512, 6 blocks), both built here by make_fixture.py from the same
# recipe (the tiny one is retrained, so it is the fixture's twin, not the committed file). Each contender captures the
# last block's output (the residual stream after block n-1) for the same token ids and writes it to disk (shards /
# a .npy memmap), with the same batch and thread count; rounds alternate the two so load on a shared machine hits
# both alike. Prints tokens/s per round, the medians and the ratio gba/PyTorch.
# Usage (from the repository root, after a Release build):
#   tools/onnx/throughput.sh [--rounds 3] [--threads 1] [--batch 8] [--keep DIR]
# Installs Debian's python3-torch, python3-onnx, python3-sentencepiece and OpenBLAS if missing (PyTorch's BLAS
# otherwise falls back to the reference libblas, which would flatter gba).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rounds=3 threads=1 batch=8 keep=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
dll="$repo/tools/Gba.Cli/bin/Release/net10.0/gba.dll"
[[ -f "$dll" ]] || { echo "throughput: build first (dotnet build -c Release): no $dll" >&2; exit 1; }

need=()
/usr/bin/python3 -c 'import torch, onnx, sentencepiece, numpy' 2>/dev/null || need+=(python3-torch python3-onnx python3-sentencepiece python3-numpy)
ldconfig -p | grep -q 'libopenblas\.so\.0' || need+=(libopenblas0-pthread)
if [[ ${#need[@]} -gt 0 ]]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
# Debian's OpenBLAS misdetects some virtual CPUs (the benchmarks' run-benchmarks.sh sets the same).
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}"

work=${keep:-$(mktemp -d)}
mkdir -p "$work"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3

# size  context  sequences
specs=("tiny 64 512" "large 128 64")
declare -A hook_torch hook_onnx
for spec in "${specs[@]}"; do
  read -r size ctx seqs <<<"$spec"
  if [[ ! -f "$work/$size/$size.pt" ]]; then
    echo "building the $size model in $work/$size" >&2
    $py "$repo/tools/onnx/make_fixture.py" --size "$size" --out "$work/$size" --save-torch >/dev/null 2>&1 \
      || { echo "make_fixture.py --size $size failed" >&2; exit 1; }
  fi
  read -r hook_torch[$size] hook_onnx[$size] < <($py - "$work/$size/$size.pt" "$work/$size/ids.npy" "$ctx" "$seqs" <<'PY'
import sys, numpy as np, torch
saved = torch.load(sys.argv[1])
hooks = {k: v for k, v in saved["hooks"].items() if k.endswith("resid_post")}
last = sorted(hooks, key=lambda k: int(k.split(".")[1]))[-1]
rng = np.random.default_rng(7)
np.save(sys.argv[2], rng.integers(3, saved["vocab"], size=(int(sys.argv[4]), int(sys.argv[3])), dtype=np.int64))
print(last, hooks[last])
PY
)
done

blas=$($py -c 'import torch, re; print("BLAS_INFO=" + re.search(r"BLAS_INFO=(\w+)", torch.__config__.show()).group(1))')
echo "# Harvest throughput, $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores (shared machine)"
ort=$(grep -oP 'Microsoft.ML.OnnxRuntime" Version="\K[^"]+' "$repo/Directory.Packages.props")
echo "# gba: .NET SDK $(dotnet --version), ONNX Runtime $ort; PyTorch $($py -c 'import torch; print(torch.__version__)') ($blas, libblas.so.3 -> $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)); threads $threads, batch $batch"
printf '%-6s %-9s %-28s %5s %12s %12s\n' model tokens hook round gba_tok/s torch_tok/s
declare -A gba_rates torch_rates
for spec in "${specs[@]}"; do
  read -r size ctx seqs <<<"$spec"
  for r in $(seq 1 "$rounds"); do
    rm -rf "$work/$size/acts"
    g=$(dotnet "$dll" harvest --model "$work/$size/$size.onnx" --token-ids "$work/$size/ids.npy" --hook "${hook_onnx[$size]}" \
          --out "$work/$size/acts" --batch "$batch" --threads "$threads" --quiet --json | tail -1 \
        | $py -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])')
    t=$($py "$repo/tools/onnx/torch_harvest.py" --weights "$work/$size/$size.pt" --token-ids "$work/$size/ids.npy" --hook "${hook_torch[$size]}" \
          --out "$work/$size/torch.npy" --batch "$batch" --threads "$threads" | $py -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])')
    rm -f "$work/$size/torch.npy"
    gba_rates[$size]+="$g "; torch_rates[$size]+="$t "
    printf '%-6s %-9s %-28s %5s %12.0f %12.0f\n' "$size" "$((ctx * seqs))" "${hook_torch[$size]}" "$r" "$g" "$t"
  done
done
echo
echo "| model | tokens | gba median tokens/s | PyTorch median tokens/s | median of the rounds' gba / PyTorch |"
echo "|---|---|---|---|---|"
for spec in "${specs[@]}"; do
  read -r size ctx seqs <<<"$spec"
  $py - "$size" "$((ctx * seqs))" "${gba_rates[$size]}" "${torch_rates[$size]}" <<'PY'
import statistics, sys
gs = [float(x) for x in sys.argv[3].split()]; ts = [float(x) for x in sys.argv[4].split()]
ratio = statistics.median(g / t for g, t in zip(gs, ts))  # each round's pair ran back to back, under the same load
print(f"| {sys.argv[1]} | {int(sys.argv[2]):,} | {statistics.median(gs):,.0f} | {statistics.median(ts):,.0f} | {ratio:.2f} |")
PY
done
