#!/usr/bin/env bash
# Smoke-test the bundle that build-linux.sh made (dist/photofind/):
#   - the command line starts;
#   - the offline demo runs inside it (writes demo scenes, indexes them with the shipped
#     demo model, searches);
#   - install-desktop writes a valid desktop entry whose Exec points into the bundle;
#   - the desktop app opens a window on "find photos like this one" (under Xvfb when there
#     is no display), and a screenshot of it is saved.
#
#   bash packaging/smoke-test-linux.sh [OUT]     (default OUT: build/linux/smoke)
#
# Needs, for the GUI part: Xvfb (when there is no $DISPLAY), xdotool and ImageMagick's
# `import`; Debian: apt-get install xvfb xdotool imagemagick libxcb-cursor0.
set -euo pipefail
cd "$(dirname "$0")/.."
app=$PWD/dist/photofind
out=$(realpath -m "${1:-build/linux/smoke}")
rm -rf "$out" && mkdir -p "$out"
data=$out/data

step() { echo "smoke: $*"; }
step "$("$app/photofind" --version)"
"$app/photofind" --data-dir "$data" demo --count 60
"$app/photofind" --data-dir "$data" search "red circle" --limit 3

XDG_DATA_HOME=$out/xdg "$app/photofind" install-desktop >/dev/null
entry=$out/xdg/applications/io.github.photofind.Photofind.desktop
grep -q "^Exec=$app/photofind-gui %f$" "$entry"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry"; fi
step "install-desktop: $(grep ^Exec= "$entry")"

xvfb=
if [ -z "${DISPLAY:-}" ]; then
    export DISPLAY=:$((50 + RANDOM % 40))
    Xvfb "$DISPLAY" -screen 0 1280x800x24 >/dev/null 2>&1 &
    xvfb=$!
    sleep 2
fi
photo=$(find "$data/demo-library" -name '*.jpg' | sort | head -n 1)
started=$(date +%s.%N)
QT_QPA_PLATFORM=xcb "$app/photofind-gui" --data-dir "$data" "$photo" >"$out/gui.log" 2>&1 &
gui=$!
cleanup() { kill "$gui" 2>/dev/null || true; [ -z "$xvfb" ] || kill "$xvfb" 2>/dev/null || true; }
trap cleanup EXIT
window=
for _ in $(seq 1 120); do
    window=$(xdotool search --onlyvisible --pid "$gui" 2>/dev/null | head -n 1 || true)
    [ -n "$window" ] && break
    kill -0 "$gui" 2>/dev/null || { cat "$out/gui.log"; echo "smoke: the GUI exited" >&2; exit 1; }
    sleep 0.25
done
[ -n "$window" ] || { echo "smoke: no window after 30 s" >&2; exit 1; }
step "GUI window after $(echo "$(date +%s.%N) - $started" | bc) s: $(xdotool getwindowname "$window")"
sleep 8  # let the find-similar search finish and the thumbnails load
import -window root "$out/bundle-gui.png"
kill -0 "$gui" || { cat "$out/gui.log"; exit 1; }
step "screenshot: $out/bundle-gui.png"
step "passed"
