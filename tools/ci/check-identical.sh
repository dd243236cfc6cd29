#!/usr/bin/env bash
# Byte-identity check for restructurings: runs a fixed set of small CLI configurations and hashes
# everything they write (SAELens exports, `gba encode` codes, `gba eval` metrics, config.json,
# metrics.jsonl, loss.jsonl, neurons.json, summary.json, checkpoint tensors and state), with timings
# removed, into one manifest per kernel set. Two builds that behave the same give the same manifests.
#
# Configurations: methods gba and topk x tied/untied x synthetic/.npy data (the 8 of issue 12), plus
# ba, l1, batchtopk, jumprelu-l0 and mp on synthetic data and mp on .npy data. Seeds and thread
# counts are fixed; sizes are small (a few seconds per run).
#
# Usage (from the repository root, after a Release build):
#   tools/ci/check-identical.sh --out DIR [--gba PATH/gba.dll] [--kernels avx512,avx2,scalar] [--against REFDIR]
# writes DIR/<kernels>.manifest for each kernel set; with --against, fails unless each equals
# REFDIR/<kernels>.manifest (and prints the differing lines).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
dll="$repo/tools/Gba.Cli/bin/Release/net10.0/gba.dll"
out="" against="" kernels=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --gba) dll=$2; shift 2 ;;
    --kernels) kernels=$2; shift 2 ;;
    --against) against=$2; shift 2 ;;
    *) echo "check-identical: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "check-identical: --out DIR is required" >&2; exit 2; }
[[ -f "$dll" ]] || { echo "check-identical: no $dll (build first: dotnet build -c Release)" >&2; exit 1; }
if [[ -z "$kernels" ]]; then
  kernels=scalar
  grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && kernels="avx2,$kernels"
  grep -qw avx512f /proc/cpuinfo && kernels="avx512,$kernels"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
npy="$shared/data/use-lite-moby-resid1-40k.f16.npy"
# One fixed working directory: paths recorded in config.json and the codes' metadata must not differ between builds.
work=/tmp/gba-identity-work

gba() { dotnet "$dll" "$@"; }

# Hash a file; JSON/JSONL with every "seconds", "tokens_per_second" and "rows_per_second" key removed
# (timings), a checkpoint's trainer options as a sorted set, checkpoint manifests (which hash the timed
# state.json) skipped.
manifest() {
  python3 - "$1" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
TIMED = {"seconds", "tokens_per_second", "rows_per_second"}
def strip(v):
    if isinstance(v, dict): return {k: strip(x) for k, x in v.items() if k not in TIMED}
    if isinstance(v, list): return [strip(x) for x in v]
    return v
DERIVED = {"steps", "trains_bias_by_gradient", "renormalizes_decoder"}
def state(v):
    # A checkpoint's trainer options are compared as a set of settings: the key order of state.json is
    # not part of its contract, nor are the read-only values derived from the others.
    if isinstance(v, dict) and isinstance(v.get("options"), dict):
        v["options"] = {k: v["options"][k] for k in sorted(v["options"]) if k not in DERIVED}
    return v
def norm(path, data):
    name = os.path.basename(path)
    if name in ("summary.json", "state.json") or name.endswith(".jsonl") or name.endswith(".eval.json"):
        lines = [l for l in data.decode().splitlines() if l.strip()] if name.endswith(".jsonl") or name.endswith(".eval.json") else [data.decode()]
        return "\n".join(json.dumps(state(strip(json.loads(l))), separators=(",", ":"), ensure_ascii=False) for l in lines).encode()
    return data
for dirpath, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(dirpath, f)
        rel = os.path.relpath(p, root)
        if f == "manifest.json" and "checkpoints" in rel: continue
        with open(p, "rb") as h: data = h.read()
        print(hashlib.sha256(norm(p, data)).hexdigest(), rel)
PY
}

status=0
IFS=',' read -ra sets <<< "$kernels"
for k in "${sets[@]}"; do
  rm -rf "$work"; mkdir -p "$work"
  export GBA_KERNELS=$k
  echo "=== check-identical: GBA_KERNELS=$k" >&2
  gba synth --out "$work/syn" --tokens 6000 --features 128 --dim 32 --sparsity 3 --seed 5 --quiet > /dev/null
  common=(--d-sae 256 --batch 128 --eval-every 20 --init-tokens 2048 --buffer-tokens 2560 --threads 2 --seed 3 --checkpoint-every 30 --quiet)
  synth=(--features 128 --dim 32 --sparsity 3 --eval-tokens 2048 --steps 60)
  files=(--data "$npy" --row-limit 6000 --eval-tokens 600 --steps 40)
  runs=()
  for method in gba topk; do
    for tie in tied untied; do
      flag=(); [[ $tie == untied ]] && flag=(--untied)
      runs+=("$method-$tie-synth|--method $method ${flag[*]} ${synth[*]}")
      runs+=("$method-$tie-npy|--method $method ${flag[*]} ${files[*]}")
    done
  done
  for method in ba l1 batchtopk jumprelu-l0 mp; do runs+=("$method-tied-synth|--method $method ${synth[*]}"); done
  runs+=("mp-tied-npy|--method mp ${files[*]}")
  for r in "${runs[@]}"; do
    name=${r%%|*}; read -ra args <<< "${r#*|}"
    dir="$work/runs/$name"
    gba train "${args[@]}" "${common[@]}" --out "$dir" > /dev/null
    if [[ $name == *-npy ]]; then data=(--data "$npy" --row-limit 3000); else data=(--data "$work/syn/activations.npy"); fi
    if [[ $name != mp-* ]]; then
      gba encode --sae "$dir" "${data[@]}" --out "$dir/codes.safetensors" --threads 2 --quiet > /dev/null
    fi
    gba eval --sae "$dir" "${data[@]}" --eval-tokens 1000 --threads 2 --json | tail -n 1 > "$dir/metrics.eval.json"
  done
  manifest "$work" > "$out/$k.manifest"
  echo "$(wc -l < "$out/$k.manifest") files hashed into $out/$k.manifest" >&2
  if [[ -n "$against" ]]; then
    if diff "$against/$k.manifest" "$out/$k.manifest" >&2; then echo "identical to $against/$k.manifest" >&2
    else echo "DIFFERENT from $against/$k.manifest" >&2; status=1; fi
  fi
done
rm -rf "$work"
exit $status
