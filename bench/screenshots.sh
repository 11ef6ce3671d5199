#!/usr/bin/env bash
# Screenshots of the real desktop app for README.md and docs/screenshots/.
#
# Runs `photofind gui` under Xvfb on a fresh data directory (and a fresh HOME, so no
# settings leak in), drives it with xdotool as a person would, and saves the screen with
# ImageMagick's `import`:
#   first-run.png          the welcome page (Pictures preselected)
#   model-unavailable.png  Start with no network for the standard model: the explanation
#   indexing.png           the demo library being indexed, already searchable
#   search.png             "red circle" typed, first result selected
#   similar.png            a result dragged onto the window: find similar
#
# Needs: Xvfb, xdotool, ImageMagick, and the demo model (photofind/models/demo).
#   apt-get install -y xvfb xdotool imagemagick libxcb-cursor0 libxcb-icccm4 \
#     libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 libxcb-shape0
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
OUT=$ROOT/docs/screenshots
WORK=/tmp/photofind-shots
rm -rf "$WORK"
DATA=$WORK/data
SCREEN=${SCREEN:-1280x800}
mkdir -p "$OUT" "$WORK/sam/Pictures"

Xvfb :87 -screen 0 "${SCREEN}x24" -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
GUI=""
cleanup() {
    [ -n "$GUI" ] && kill "$GUI" 2>/dev/null || true
    kill "$XVFB" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
export DISPLAY=:87 QT_QPA_PLATFORM=xcb HOME=$WORK/sam XDG_CONFIG_HOME=$WORK/sam/.config
export HF_HUB_OFFLINE=1 PHOTOFIND_DATA_DIR=$DATA
sleep 1

window() { xdotool search --onlyvisible --name '^photofind$' 2>/dev/null | head -1; }
photos() {  # how many photos the catalog holds (a reader: works while the app writes)
    "$PY" -m photofind status --json 2>/dev/null | "$PY" -c \
        'import json,sys; print(json.load(sys.stdin)["photos"])' 2>/dev/null || echo 0
}
wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -ge $end ] && { echo "timed out waiting for: $*" >&2; return 1; }
        sleep 0.3
    done
}
at_least() { [ "$(photos)" -ge "$1" ]; }
shot() {
    sleep "${2:-1}"
    import -window root "$OUT/$1.png"
    echo "wrote $OUT/$1.png"
}

"$PY" -m photofind gui >"$WORK/gui.log" 2>&1 &
GUI=$!
wait_for 60 window >/dev/null
sleep 2
WIN=$(window)
xdotool windowmove "$WIN" 0 0 windowsize "$WIN" ${SCREEN%x*} ${SCREEN#*x} windowfocus "$WIN"
shot first-run 2

xdotool key alt+s     # Start indexing ~/Pictures with the standard model
shot model-unavailable 4

xdotool key alt+d     # Try the demo library
wait_for 240 at_least 90
xdotool key ctrl+f
xdotool type --delay 90 "red circle"
shot indexing 2.5

wait_for 600 at_least 300
sleep 4                              # the last batch's progress clears
xdotool key Escape
xdotool type --delay 90 "red circle"
sleep 2
xdotool key Down
shot search 2.5

# Drag the third result of the first row onto the middle of the grid.
xdotool mousemove 560 130 mousedown 1 sleep 0.3 mousemove 570 150 sleep 0.3 \
    mousemove 450 380 sleep 0.3 mousemove 440 400 sleep 0.5 mouseup 1
shot similar 3

kill "$GUI"
wait "$GUI" 2>/dev/null || true
GUI=""
