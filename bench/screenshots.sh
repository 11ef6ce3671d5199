#!/usr/bin/env bash
# Screenshots of the real desktop app for README.md and docs/screenshots/.
#
# Runs `photofind gui` under Xvfb on a fresh data directory (and a fresh HOME, so no
# settings leak in), drives it with xdotool as a person would, and saves the screen with
# ImageMagick's `import`:
#   first-run.png          the welcome page (Pictures preselected)
#   model-unavailable.png  Start with no network for the standard model: the explanation
#   indexing.png           10000 demo scenes being indexed, already searchable
#   search.png             "red circle" typed, first result selected
#   similar.png            a result dragged onto the window: find similar
#   help.png               F1: the keyboard shortcuts, where the data and logs are
#   narrow.png             the window at its smallest (640×440), a photo selected
#   error.png              `photofind gui notes.jpg`, a file that is not a photo
#   search-dark.png        the same in a dark theme
#   timeline.png           `photofind demo`'s library, nothing typed: the timeline by month
#   divider.png            "red circle": the good matches, the rest behind "Show N weaker"
#   filter-chips.png       typed filters shown as chips under the search box
#   no-good-matches.png    "asdfgh": no good match, the closest photos under a note
#   duplicates.png         ≡ → Duplicates…: groups of copies side by side, the keeper marked
#   duplicates-confirm.png Move to Trash…: the confirmation that lists the files
# ONLY=query makes just the four above them (they need the demo model); ONLY=duplicates
# just the two duplicates views.
#
# Needs: Xvfb, xdotool, ImageMagick, and the demo model (photofind/models/demo) for all but
# the first two; STAND_IN=1 makes them with a random-weights stand-in (arbitrary answers,
# for checking the layout only).
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
shot() {  # shot NAME [SECONDS [WINDOW]]: the screen (or one window) after a pause
    sleep "${2:-1}"
    import -window "${3:-root}" "$OUT/$1.png"
    echo "wrote $OUT/$1.png"
}

start_gui() {  # start_gui [python -c CODE | gui ARGS...]: the app, fitted and focused
    if [ "${1:-}" = gui ]; then "$PY" -m photofind "$@" >>"$WORK/gui.log" 2>&1 &
    elif [ $# -gt 0 ]; then "$PY" -c "$1" >>"$WORK/gui.log" 2>&1 & else
        "$PY" -m photofind gui >>"$WORK/gui.log" 2>&1 & fi
    GUI=$!
    wait_for 90 window >/dev/null
    sleep 2
    WIN=$(window)
    xdotool windowmove "$WIN" 0 0 windowsize "$WIN" ${SCREEN%x*} ${SCREEN#*x} windowfocus "$WIN"
}
quit_gui() {
    xdotool key ctrl+q
    wait "$GUI" 2>/dev/null || true
    GUI=""
}

query_shots() {  # the query language's views on `photofind demo`'s dated library
    rm -rf "$DATA" "$XDG_CONFIG_HOME/photofind"
    "$PY" -m photofind demo >"$WORK/demo.log" 2>&1   # 300 dated scenes, indexed
    mkdir -p "$XDG_CONFIG_HOME/photofind"
    printf '[model]\nspec=demo\npretrained=\n\n[index]\ndevice=cpu\ncores=1\n' \
        >"$XDG_CONFIG_HOME/photofind/photofind.conf"
    start_gui
    sleep 4
    shot timeline 2
    xdotool key ctrl+f
    xdotool type --delay 60 "red circle"
    shot divider 3
    xdotool key ctrl+a
    xdotool type --delay 40 "red circle after:2022 before:2024 orientation:landscape"
    shot filter-chips 3
    xdotool key ctrl+a
    xdotool type --delay 60 "asdfgh"
    shot no-good-matches 3
    quit_gui
}
duplicates_shots() {  # the duplicates review on a library with copies and look-alikes
    rm -rf "$DATA" "$XDG_CONFIG_HOME/photofind" "$WORK/sam/Pictures"
    "$PY" - "$WORK/sam/Pictures" <<'PYEOF'
import sys
from photofind.demo.variants import write_duplicate_library
write_duplicate_library(sys.argv[1], 3, seed=5, variants=("copy", "q60", "half", "png", "crop3"),
                        decoys=("same-caption",))
PYEOF
    "$PY" -m photofind index "$WORK/sam/Pictures" --model demo >"$WORK/index.log" 2>&1
    mkdir -p "$XDG_CONFIG_HOME/photofind"
    printf '[model]\nspec=demo\npretrained=\n\n[index]\ndevice=cpu\ncores=1\n' \
        >"$XDG_CONFIG_HOME/photofind/photofind.conf"
    start_gui
    sleep 3
    xdotool mousemove 1215 25 click 1   # ≡ (top right) → Duplicates…
    sleep 1
    xdotool key Down Down Return
    wait_for 60 sh -c "xdotool search --onlyvisible --name '^Duplicates$' >/dev/null"
    DLG=$(xdotool search --onlyvisible --name '^Duplicates$' | tail -1)
    xdotool windowmove --sync "$DLG" 50 30
    shot duplicates 5
    eval "$(xdotool getwindowgeometry --shell "$DLG")"   # X, Y, WIDTH, HEIGHT
    # Move N to Trash… (bottom right, left of Close): the confirmation lists the files
    xdotool mousemove $((X + WIDTH - 190)) $((Y + HEIGHT - 24)) click 1
    shot duplicates-confirm 2
    xdotool key Escape                   # Cancel: nothing moved
    sleep 1
    quit_gui
}
if [ "${ONLY:-}" = duplicates ]; then
    duplicates_shots
    exit 0
fi
if [ "${ONLY:-}" = query ]; then
    query_shots
    exit 0
fi

# 1. The first run, and what happens without a network for the standard model.
start_gui
shot first-run 2
xdotool key alt+s                    # Start indexing ~/Pictures with the standard model
wait_for 120 grep -q "model unavailable" "$DATA/logs/photofind-gui.log"
shot model-unavailable 1.5
quit_gui
rm -rf "$DATA" "$XDG_CONFIG_HOME/photofind"

# 2. A library being indexed, searched meanwhile; then a search and a find-similar.
if [ -f photofind/models/demo/open_clip_config.json ]; then
    # 10000 demo scenes in ~/Pictures, the demo model chosen in the settings, one core:
    # big enough that the indexing shot catches indexing under way (the app indexes demo
    # scenes at ~600 a second; 3000 were done before the query was typed).
    QUERY="red circle"
    COUNT=10000
    "$PY" - "$WORK" "$COUNT" <<'PYEOF'
import sys
from pathlib import Path
from photofind.demo import write_library
work = Path(sys.argv[1])
write_library(work / "sam" / "Pictures", int(sys.argv[2]))
conf = work / "sam" / ".config" / "photofind" / "photofind.conf"
conf.parent.mkdir(parents=True, exist_ok=True)
conf.write_text("[model]\nspec=demo\npretrained=\n\n[index]\ndevice=cpu\ncores=1\n")
PYEOF
    start_gui
    xdotool key alt+s                # Start indexing ~/Pictures
elif [ "${STAND_IN:-0}" = 1 ]; then
    # No demo model in this checkout yet: the same 300 demo scenes in ~/Pictures, indexed
    # with photofind's standard architecture with random weights (its answers are
    # arbitrary: for checking the layout, not for the README).
    echo "no demo model: using a stand-in with random weights" >&2
    QUERY="red circle"
    COUNT=300
    "$PY" - "$WORK" <<'PYEOF'
import sys
from pathlib import Path
sys.path.insert(0, "bench")
from gui_responsiveness import random_model
from photofind.demo import write_library
work = Path(sys.argv[1])
write_library(work / "sam" / "Pictures", 300)
spec = random_model("ViT-B-32-256", work / "stand-in-model")
conf = work / "sam" / ".config" / "photofind" / "photofind.conf"
conf.parent.mkdir(parents=True, exist_ok=True)
conf.write_text(f"[model]\nspec={spec}\npretrained=\n\n[index]\ndevice=cpu\n")
PYEOF
    start_gui
    xdotool key alt+s                # Start indexing ~/Pictures
else
    echo "no demo model in this checkout: only first-run and model-unavailable" \
         "(STAND_IN=1 makes the rest with a random-weights stand-in)" >&2
    exit 0
fi
wait_for 300 at_least 60
xdotool key ctrl+f
xdotool type --delay 90 "$QUERY"
shot indexing 2.5

wait_for 900 at_least "$COUNT"
sleep 6                              # the last run's progress clears
xdotool key Escape
xdotool type --delay 90 "$QUERY"
sleep 2
xdotool key Down
shot search 2.5

# Drag the third result of the first row onto the middle of the grid.
xdotool mousemove 560 130 mousedown 1 sleep 0.3 mousemove 570 150 sleep 0.3 \
    mousemove 450 380 sleep 0.3 mousemove 440 400 sleep 0.5 mouseup 1
shot similar 3

xdotool key F1                       # help: keys, where the data and logs are
wait_for 20 xdotool search --onlyvisible --name '^photofind help$' >/dev/null
shot help 2
HELP=$(xdotool search --onlyvisible --name '^photofind help$' | head -1)
xdotool windowfocus --sync "$HELP" key Escape
wait_for 20 sh -c "! xdotool search --onlyvisible --name '^photofind help$' >/dev/null"
xdotool windowfocus --sync "$WIN"

# The window at its smallest, a search typed and a photo selected.
xdotool windowsize "$WIN" 640 440   # the minimum size the window asks its window manager for
xdotool key ctrl+f
xdotool type --delay 60 "$QUERY"
sleep 2
xdotool key Down Right
shot narrow 2.5 "$WIN"
quit_gui

# A file that is not a photo, as "Open with photofind" from a file manager gives it.
printf 'a shopping list, not a photo\n' >"$WORK/notes.jpg"
start_gui gui "$WORK/notes.jpg"
shot error 3
quit_gui

# 3. The same window in a dark theme (Fusion with a dark palette, as a dark desktop sets).
start_gui "
import sys
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
app.setStyle('Fusion')
p = QPalette()
for role, rgb in ((QPalette.Window, (45, 45, 48)), (QPalette.WindowText, (230, 230, 230)),
                  (QPalette.Base, (30, 30, 32)), (QPalette.AlternateBase, (55, 55, 60)),
                  (QPalette.Text, (230, 230, 230)), (QPalette.Button, (50, 50, 54)),
                  (QPalette.ButtonText, (230, 230, 230)), (QPalette.Highlight, (64, 128, 220)),
                  (QPalette.HighlightedText, (255, 255, 255)),
                  (QPalette.PlaceholderText, (150, 150, 155)), (QPalette.ToolTipBase, (30, 30, 32)),
                  (QPalette.ToolTipText, (230, 230, 230))):
    p.setColor(role, QColor(*rgb))
app.setPalette(p)
from photofind.gui.app import main
sys.exit(main([]))
"
xdotool type --delay 90 "$QUERY"
sleep 2
xdotool key Down
shot search-dark 2.5
quit_gui

# 4. The query language: timeline, divider, chips, no good matches.
query_shots
