#!/usr/bin/env bash
# Renders a `gba report` HTML file in headless Debian chromium and checks that it really displays:
#   1. the page loads with no console errors or failed resource loads (chromium's own log on stderr),
#   2. the DOM chromium built holds the expected number of inline <svg> plots (--min-plots, default 1)
#      and no external http(s) references,
#   3. the screenshot PNG is not blank (enough distinct colours and non-white pixels).
# Installs chromium with apt-get when it is missing (as root, or through sudo).
#
# Usage: tools/report/check-report.sh REPORT.html [--png OUT.png] [--min-plots N] [--width W] [--height H]
# Exit 0 when every check passes; 1 with one line per failed check otherwise.
set -euo pipefail

html="" png="" min_plots=1 width=1300 height=3000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --png) png="$2"; shift 2 ;;
    --min-plots) min_plots="$2"; shift 2 ;;
    --width) width="$2"; shift 2 ;;
    --height) height="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "check-report: unknown option $1" >&2; exit 2 ;;
    *) html="$1"; shift ;;
  esac
done
[[ -n "$html" ]] || { echo "check-report: give the report HTML file" >&2; exit 2; }
[[ -f "$html" ]] || { echo "check-report: $html: no such file" >&2; exit 1; }
html=$(realpath "$html")
png=${png:-${html%.html}.png}

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
  echo "check-report: installing chromium (apt-get)..." >&2
  sudo_cmd=""
  [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y chromium >/dev/null 2>&1 || { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y chromium >/dev/null; }
  browser=$(command -v chromium)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions
       --user-data-dir="$work/profile" --enable-logging=stderr --v=0 --virtual-time-budget=5000)
# Offline by construction: any attempt to fetch something from the network fails loudly in the log.
flags+=(--host-resolver-rules="MAP * ~NOTFOUND")

"$browser" "${flags[@]}" --window-size="$width,$height" --screenshot="$png" "file://$html" >"$work/shot.out" 2>"$work/shot.log" || true
"$browser" "${flags[@]}" --dump-dom "file://$html" >"$work/dom.html" 2>"$work/dom.log" || true

fail=0
problem() { echo "check-report: $*"; fail=1; }

# Console errors and failed loads: chromium logs page console messages as "CONSOLE(...)" / ":CONSOLE" lines
# and network failures as net::ERR_*.
errors=$(cat "$work/shot.log" "$work/dom.log" | grep -E 'CONSOLE|net::ERR_|Uncaught|Failed to load|Refused to' | grep -v -E 'ERR_NAME_NOT_RESOLVED.*(update|safebrowsing|gcm|googleapis)' || true)
[[ -z "$errors" ]] || problem "console errors or failed loads while rendering $html:"$'\n'"$errors"

plots=$(grep -o '<svg' "$work/dom.html" | wc -l)
[[ "$plots" -ge "$min_plots" ]] || problem "the rendered DOM has $plots <svg> plots, expected at least $min_plots"
grep -q '</html>' "$work/dom.html" || problem "chromium returned no complete DOM for $html"
if grep -Eo '(src|href)="https?://[^"]*"' "$work/dom.html" | head -3 | grep -q .; then
  problem "external references in the DOM: $(grep -Eo '(src|href)="https?://[^"]*"' "$work/dom.html" | head -3 | tr '\n' ' ')"
fi

[[ -s "$png" ]] || problem "no screenshot written to $png"
if [[ -s "$png" ]]; then
  # Decode the PNG with Python's zlib (no third-party modules): count distinct colours and non-white pixels.
  read -r colours nonwhite total < <(python3 - "$png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        bpp = {2: 3, 6: 4}[ctype]
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, nonwhite = set(), 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 3 == 0:
        for x in range(0, w, 3):
            px = bytes(line[x * bpp:x * bpp + 3])
            colours.add(px)
            if px != b'\xff\xff\xff': nonwhite += 1
print(len(colours), nonwhite, (h // 3 + 1) * (w // 3 + 1))
PY
)
  [[ "$colours" -ge 16 ]] || problem "the screenshot looks blank: $colours distinct colours"
  [[ "$nonwhite" -ge $((total / 200)) ]] || problem "the screenshot looks blank: $nonwhite of $total sampled pixels are not white"
fi

if [[ $fail -eq 0 ]]; then
  echo "check-report: ok: $html rendered by $($browser --version 2>/dev/null | head -1): $plots plots, no console errors; screenshot $png ($colours colours, $nonwhite/$total sampled pixels non-white)"
fi
exit $fail
