#!/usr/bin/env bash
# The export against SAELens 6's and sparsify's own formulas: for every architecture `gba train` exports
# (jumprelu, jumprelu per token, standard, jumprelu with b_enc (BatchTopK), topk, topk as sparsify,
# matching_pursuit, matching_pursuit per token), train a small SAE on the shared USE-Lite activations,
# run `gba encode` and `gba eval` on 4,000 rows it did not train on, and check the codes, the FVU and the
# files with tools/ci/saelens_check.py (Debian's python3 with numpy, nothing else).
# Usage (from the repository root, after a Release build): tools/ci/check-export.sh [--keep]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
dll="$repo/tools/Gba.Cli/bin/Release/net10.0/gba.dll"
py=/usr/bin/python3   # Debian's interpreter, where python3-numpy installs (a pyenv python3 on PATH may lack numpy)
[[ -f "$dll" ]] || { echo "check-export: build first (dotnet build -c Release): no $dll" >&2; exit 1; }
"$py" -c 'import numpy' 2>/dev/null || { echo "check-export: $py has no numpy (apt-get install -y python3-numpy)" >&2; exit 1; }

work=$(mktemp -d)
[[ "${1:-}" == "--keep" ]] && echo "check-export: files in $work" || trap 'rm -rf "$work"' EXIT
gba() { dotnet "$dll" "$@"; }

data="$shared/data/use-lite-moby-resid1-40k.f16.npy"
"$py" - "$data" "$work" <<'PY'
import sys, numpy as np
x = np.load(sys.argv[1], mmap_mode="r")
np.save(sys.argv[2] + "/train.npy", np.asarray(x[:36000]))
np.save(sys.argv[2] + "/check.npy", np.asarray(x[36000:]))
PY

common=(--data "$work/train.npy" --d-sae 512 --batch 256 --steps 150 --eval-tokens 2000 --eval-every 0 --threads 2
        --hook-name blocks.1.hook_resid_post --model-name use-lite-moby --context-size 64 --quiet)
failed=0
check() {   # name, then gba train options
  local name=$1; shift
  gba train "${common[@]}" "$@" --out "$work/$name" > /dev/null 2> "$work/$name.train.log" || { cat "$work/$name.train.log" >&2; return 1; }
  local sae="$work/$name/sae"
  [[ -f "$sae/cfg.json" ]] || sae=$(dirname "$(ls "$work/$name"/sae/*/cfg.json)")
  gba encode --sae "$work/$name" --data "$work/check.npy" --out "$work/$name.codes.safetensors" --quiet > /dev/null
  gba eval --sae "$work/$name" --data "$work/check.npy" --json | tail -n 1 > "$work/$name.eval.json"
  "$py" "$repo/tools/ci/saelens_check.py" --sae "$sae" --data "$work/check.npy" --codes "$work/$name.codes.safetensors" \
    --eval "$work/$name.eval.json" || { echo "check-export: $name FAILED"; failed=1; }
}
check jumprelu --method gba --normalize datasetscale
check jumprelu-pertoken --method gba --normalize pertoken
check standard --method l1
check batchtopk --method batchtopk --k 16
check topk --method topk --k 16
check sparsify --method topk --k 16 --normalize datasetscale --format sparsify
check mp --method mp --mp-steps 4 --normalize datasetscale
check mp-pertoken --method mp --mp-steps 4 --normalize pertoken
[[ $failed == 0 ]] && echo "check-export: every architecture matches SAELens' / sparsify's formulas" || exit 1
