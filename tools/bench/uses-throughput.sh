#!/usr/bin/env bash
# Throughput of gba features / select / encode (docs/cli.md, "Data selection"): on USE-Lite (an SAE with d_sae 2,048
# trained for 400 steps) three runs each, and on a generated 10M-token corpus (gba synth, d 64, f16; token text
# with 25-token sentences; an SAE with d_sae 512) one run each; the targets of the 10M selection are its first
# 40 sentences, written again by `gba synth --tokens 1000` (same seed, same first rows). Needs ~2.6 GB in WORK.
# Usage: tools/bench/uses-throughput.sh [WORK_DIR]   (after dotnet build -c Release)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
G="dotnet $repo/tools/Gba.Cli/bin/Release/net10.0/gba.dll"
D=${GBA_SHARED_DATA:-$repo/../shared/data}/use-lite-moby-resid1-40k
$G train --data $D.f16.npy --d-sae 2048 --batch 256 --steps 400 --eval-tokens 2000 --eval-every 0 --threads 2 --out run --quiet > /dev/null 2>&1
$G synth --out big --tokens 10M --dim 64 --features 512 --sparsity 3 --dtype f16 --quiet
$G synth --out small --tokens 1000 --dim 64 --features 512 --sparsity 3 --dtype f16 --quiet
awk 'BEGIN{print "row\tsentence\tpiece"; for(i=0;i<10000000;i++) printf "%d\t%d\t\xe2\x96\x81f%d\n", i, int(i/25), i%97}' > big/tokens.tsv
head -1001 big/tokens.tsv > small/tokens.tsv
$G train --data big/activations.npy --d-sae 512 --batch 256 --steps 300 --eval-tokens 2000 --eval-every 0 --threads 2 --out bigrun --quiet > /dev/null 2>&1
echo "== use-lite features"; for i in 1 2 3; do $G features --sae run --data $D.f16.npy --token-text $D.tokens.tsv --out feat --threads 2 --json --quiet | tail -1; done
echo "== use-lite select"; for i in 1 2 3; do $G select --sae run --data $D.f16.npy --token-text $D.tokens.tsv --target $D.f16.npy --target-text $D.tokens.tsv --top 100 --out sel.jsonl --threads 2 --json --quiet | tail -1; done
echo "== use-lite encode"; for i in 1 2 3; do $G encode --sae run --data $D.f16.npy --out codes.safetensors --threads 2 --json --quiet | tail -1; done
echo "== 10M features"; /usr/bin/time -v $G features --sae bigrun --data big/activations.npy --token-text big/tokens.tsv --out bigfeat --threads 2 --json --quiet 2> bigfeat.time | tail -1; grep -E "Maximum resident|Elapsed" bigfeat.time
echo "== 10M select"; /usr/bin/time -v $G select --sae bigrun --data big/activations.npy --token-text big/tokens.tsv --target small/activations.npy --target-text small/tokens.tsv --top 100 --out bigsel.jsonl --threads 2 --json --quiet 2> bigsel.time | tail -1; grep -E "Maximum resident|Elapsed" bigsel.time; sed -n '39,42p' bigsel.jsonl | cut -c1-80
echo "== 10M encode"; $G encode --sae bigrun --data big/activations.npy --out bigcodes.safetensors --threads 2 --json --quiet | tail -1; rm -f bigcodes.safetensors
