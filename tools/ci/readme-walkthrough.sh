#!/usr/bin/env bash
# Runs every command of the README's walkthrough (the ```bash blocks between the walkthrough markers),
# in order, in a scratch directory beside ../shared, with small sizes so it finishes in about a minute:
# each `gba ...` line is rewritten by the rules below (a value replaced where the option is given, the
# option appended where it is not) and run with `gba` = the built tool, or with --installed the `gba` on PATH
# (CI installs it as a .NET tool from the packed nupkg, as the README's Install section says). Any failing
# command fails CI.
# Usage (from the repository root, after a Release build): tools/ci/readme-walkthrough.sh [--installed] [--keep]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(cd "$repo/../shared" && pwd)
installed=0; keep=0
for a in "$@"; do
  case "$a" in
    --installed) installed=1 ;;
    --keep) keep=1 ;;
    *) echo "readme-walkthrough: unknown option $a (expected --installed, --keep)" >&2; exit 2 ;;
  esac
done
if [[ $installed == 1 ]]; then
  gba_bin=$(command -v gba) || { echo "readme-walkthrough: --installed, but no gba on PATH" >&2; exit 1; }
  gba_def='gba() { "$GBA_BIN" "$@"; }'
else
  gba_bin="$repo/tools/Gba.Cli/bin/Release/net10.0/gba.dll"
  [[ -f "$gba_bin" ]] || { echo "readme-walkthrough: build first (dotnet build -c Release): no $gba_bin" >&2; exit 1; }
  gba_def='gba() { dotnet "$GBA_BIN" "$@"; }'
fi
echo "readme-walkthrough: gba = $gba_bin"

scratch=$(mktemp -d)
[[ $keep == 1 ]] || trap 'rm -rf "$scratch"' EXIT
# The walkthrough runs from a directory laid out like the repository: ../shared beside it, examples/ and tools/ inside.
mkdir -p "$scratch/repo"
ln -s "$shared" "$scratch/shared"
ln -s "$repo/examples" "$scratch/repo/examples"
ln -s "$repo/tools" "$scratch/repo/tools"

# Extract the walkthrough commands and shrink them.
python3 - "$repo/README.md" "$gba_def" > "$scratch/walkthrough.sh" <<'PY'
import re, shlex, sys
text = open(sys.argv[1], encoding='utf-8').read()
m = re.search(r'<!-- walkthrough:begin -->(.*?)<!-- walkthrough:end -->', text, re.S)
if not m: sys.exit('README.md has no walkthrough markers')
blocks = re.findall(r'```bash\n(.*?)```', m.group(1), re.S)
if not blocks: sys.exit('README.md walkthrough has no bash blocks')
# docs/cli.md explains the same steps with the same commands: they must not drift apart.
cli = open(sys.argv[1].replace('README.md', 'docs/cli.md'), encoding='utf-8').read()
detail = re.search(r'^## The walkthrough, step by step\n(.*?)(?=^## )', cli, re.S | re.M)
if not detail: sys.exit('docs/cli.md has no "The walkthrough, step by step" section')
if re.findall(r'```bash\n(.*?)```', detail.group(1), re.S) != blocks:
    sys.exit('the commands of docs/cli.md "The walkthrough, step by step" differ from the README walkthrough')

# (pattern a command must match, [(option, small value)]): first matching rule wins.
rules = [
    (r'gba demo\b', [('--steps', '200'), ('--eval-tokens', '4096')]),
    (r'gba train\b.*--sweep\b', [('--steps', '100'), ('--eval-every', '50')]),
    (r'gba train\b.*--config\b', []),
    (r'gba train\b', [('--steps', '60'), ('--d-sae', '1024'), ('--eval-every', '30')]),
    (r'gba synth\b', [('--tokens', '20k')]),
]
def shrink(cmd):
    for pattern, opts in rules:
        if re.search(pattern, cmd):
            for opt, val in opts:
                if re.search(re.escape(opt) + r'\s+\S+', cmd):
                    cmd = re.sub(re.escape(opt) + r'\s+\S+', f'{opt} {val}', cmd)
                else:
                    cmd = re.sub(r'(gba (?:demo|train|synth)\b[^;|&]*?)(\s*(?:;|&&|\|\||$))', lambda mm: f'{mm.group(1)} {opt} {val}{mm.group(2)}', cmd, count=1)
            break
    return cmd

print('set -euo pipefail')
print(sys.argv[2])
n = 0
for block in blocks:
    for line in block.splitlines():
        s = line.split(' #')[0].rstrip() if not line.lstrip().startswith('#') else ''
        if not s: continue
        n += 1
        small = shrink(s)
        print('echo ' + shlex.quote(f'=== step {n}: {small}'))
        print(small)
PY

cd "$scratch/repo"
start=$SECONDS
GBA_BIN="$gba_bin" bash "$scratch/walkthrough.sh"
echo "=== walkthrough: every README command succeeded in $((SECONDS - start)) s (scratch: $scratch)"

# The report in a real browser, when chromium is available (tools/report/check-report.sh installs it otherwise).
if command -v chromium >/dev/null 2>&1; then
  for r in runs/*/report.html; do "$repo/tools/report/check-report.sh" "$r" --min-plots 5; done
fi
