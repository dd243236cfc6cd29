#!/usr/bin/env bash
# The regression gate's false-positive rate on this machine: runs PAIRS pairs of quick regression
# suites of the same build and compares each pair (Engine.Benchmarks --compare). Every flagged pair is
# a false positive: nothing changed but the machine's load.
#
#   tools/bench/false-positives.sh [--pairs 10] [--dir DIR] [--separate] [--reuse] [--compare-args "..."] [-- suite args...]
#   --dir           where the runs go (default /tmp/gba-false-positives-<date>), run-01.json ...
#   --separate      the two runs of a pair one after the other (default: one paired run, --pair-with
#                   self, whose two sides' launches alternate)
#   --reuse         compare the runs already in --dir instead of running the suite again
#   --compare-args  extra arguments for --compare (e.g. "--clock wall"), to test a method on the same runs
# Prints one line per pair and the count of flagged pairs; exit 0.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

pairs=10 dir="" reuse=0 separate=0 compare_args="" suite_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --separate) separate=1; shift ;;
    --compare-args) compare_args="$2"; shift 2 ;;
    --) shift; suite_args=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
dir="${dir:-/tmp/gba-false-positives-$(date -u +%Y%m%d-%H%M)}"
mkdir -p "$dir"

dotnet build Engine.Benchmarks -c Release -nologo -v q >/dev/null
exe=(dotnet "$root/Engine.Benchmarks/bin/Release/net10.0/Engine.Benchmarks.dll")

runs=$((2 * pairs))
if [[ $reuse == 0 && $separate == 1 ]]; then
  for i in $(seq -w 1 "$runs"); do
    start=$(date +%s)
    "${exe[@]}" --suite regression --quick --json-out "$dir/run-$i.json" "${suite_args[@]}" > "$dir/run-$i.txt" 2> "$dir/run-$i.log"
    echo "run $i: $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
elif [[ $reuse == 0 ]]; then
  for p in $(seq 1 "$pairs"); do
    a=$(printf 'run-%02d' $((2 * p - 1))); b=$(printf 'run-%02d' $((2 * p)))
    start=$(date +%s)
    "${exe[@]}" --suite regression --quick --json-out "$dir/$b.json" --pair-with self --pair-json-out "$dir/$a.json" "${suite_args[@]}" \
      > "$dir/$b.txt" 2> "$dir/$b.log"
    echo "pair $p: $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
fi

flagged=0
for p in $(seq 1 "$pairs"); do
  a=$(printf '%s/run-%02d.json' "$dir" $((2 * p - 1)))
  b=$(printf '%s/run-%02d.json' "$dir" $((2 * p)))
  # shellcheck disable=SC2086
  if out=$("${exe[@]}" --compare "$a" "$b" $compare_args); then status=0; else status=$?; fi
  [[ $status -le 1 ]] || { echo "$out" >&2; exit "$status"; }
  [[ $status == 1 ]] && flagged=$((flagged + 1))
  echo "pair $p: $(echo "$out" | tail -1)"
done
echo "flagged pairs: $flagged of $pairs (compare args: ${compare_args:-none})"
