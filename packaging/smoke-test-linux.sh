#!/usr/bin/env bash
# Smoke-test the bundle that build-linux.sh made (dist/photofind/):
#   - the command line starts;
#   - the offline demo runs inside it (writes demo scenes, indexes them with the shipped
#     demo model, searches) and prints nothing but its own messages (no library warning);
#   - install-desktop writes a valid desktop entry whose Exec points into the bundle;
#   - the desktop app opens a window on "find photos like this one" (under its own Xvfb
#     when there is no display), and a screenshot of it is saved.
#
#   bash packaging/smoke-test-linux.sh [OUT]     (default OUT: build/linux/smoke)
#
# PHOTOFIND_BUNDLE=DIR tests another copy of the bundle (a folder holding the programs
# photofind and photofind-gui), e.g. one moved to /opt/photofind.
#
# Every process it starts is ended when it ends: passed, failed, interrupted (Ctrl-C),
# terminated (SIGTERM, `timeout`), or even killed (SIGKILL: what it started in the
# background gets SIGKILL from the kernel through PR_SET_PDEATHSIG, util-linux setpriv).
#
# Needs, for the GUI part: Xvfb (when there is no $DISPLAY), xdotool and ImageMagick's
# `import`; Debian: apt-get install xvfb xdotool imagemagick libxcb-cursor0.
set -euo pipefail
cd "$(dirname "$0")/.."

# Cleanup first, before anything is started (a failure at any step, or a signal, ends
# every process this script started, with their children).
pids=()
cleanup() {
    local status=$? pid all=()
    trap - EXIT HUP INT TERM
    for pid in "${pids[@]}"; do
        # The process and its descendants (e.g. the GUI's decoder workers), deepest first.
        all+=($(descendants "$pid") "$pid")
    done
    if [ ${#all[@]} -gt 0 ]; then
        kill -TERM "${all[@]}" 2>/dev/null || true
        for _ in $(seq 1 40); do  # up to 4 s to end on their own, then SIGKILL
            alive=()
            for pid in "${all[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
            [ ${#alive[@]} -eq 0 ] && break
            sleep 0.1
        done
        [ ${#alive[@]} -eq 0 ] || kill -KILL "${alive[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    exit "$status"
}
descendants() {  # from /proc (no procps needed)
    local stat fields child
    for stat in /proc/[0-9]*/stat; do
        { read -r fields <"$stat"; } 2>/dev/null || continue
        fields=(${fields##*) })  # after "PID (COMM) ": STATE PPID ...
        [ "${fields[1]}" = "$1" ] || continue
        child=${stat#/proc/}
        child=${child%/stat}
        descendants "$child"
        echo "$child"
    done
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Start "$@" in the background, remembered for cleanup; with setpriv it also dies with
# this script if this script is killed outright (SIGKILL runs no trap).
deathsig=()
if command -v setpriv >/dev/null && setpriv --pdeathsig KILL true 2>/dev/null; then
    deathsig=(setpriv --pdeathsig KILL --)
fi
started=
start() {
    "${deathsig[@]}" "$@" &
    started=$!
    pids+=("$started")
}
# Run "$@" to its end, but in the background: a signal to this script is then handled at
# once (bash runs traps only between commands, so not while a foreground one runs).
run() {
    local status=0
    start "$@"
    wait "$started" || status=$?
    return "$status"
}
first_line() { printf '%s\n' "${1%%$'\n'*}"; }  # no `| head -n 1`: SIGPIPE under pipefail

app=$(realpath -m "${PHOTOFIND_BUNDLE:-dist/photofind}")
out=$(realpath -m "${1:-build/linux/smoke}")
rm -rf "$out" && mkdir -p "$out"
data=$out/data

step() { echo "smoke: $*"; }
run "$app/photofind" --version >"$out/version.txt"
step "$(cat "$out/version.txt")"
run "$app/photofind" --data-dir "$data" demo --count 60 2>"$out/demo.err" \
    || { cat "$out/demo.err" >&2; exit 1; }
# photofind's own messages start with "photofind: "; anything else (a library's warning,
# a traceback) would be shown to the person running it.
if grep -v '^photofind: ' "$out/demo.err" >"$out/demo.foreign"; then
    echo "smoke: the demo printed more than its own messages:" >&2
    cat "$out/demo.foreign" >&2
    exit 1
fi
run "$app/photofind" --data-dir "$data" search "red circle" --limit 3

run env XDG_DATA_HOME="$out/xdg" "$app/photofind" install-desktop >/dev/null
entry=$out/xdg/applications/io.github.photofind.Photofind.desktop
exec_line=$(grep '^Exec=' "$entry")
program=${exec_line#Exec=}
[ "${program% %f}" != "$program" ] && [ -x "${program% %f}" ] \
    && [ "$(realpath "${program% %f}")" = "$(realpath "$app/photofind-gui")" ] \
    || { echo "smoke: the desktop entry does not start $app/photofind-gui: $exec_line" >&2; exit 1; }
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry"; fi
step "install-desktop: $(grep ^Exec= "$entry")"

if [ -z "${DISPLAY:-}" ]; then
    # -displayfd: Xvfb picks a free display (another Xvfb on this machine keeps its own)
    # and writes its number once it accepts clients.
    start Xvfb -displayfd 3 -nolisten tcp -screen 0 1280x800x24 3>"$out/display" >/dev/null 2>&1
    xvfb=$started
    for _ in $(seq 1 100); do
        [ -s "$out/display" ] && break
        kill -0 "$xvfb" 2>/dev/null || { echo "smoke: Xvfb did not start" >&2; exit 1; }
        sleep 0.1
    done
    [ -s "$out/display" ] || { echo "smoke: Xvfb gave no display in 10 s" >&2; exit 1; }
    export DISPLAY=:$(tr -dc 0-9 <"$out/display")
fi
photos=$(find "$data/demo-library" -name '*.jpg' | sort)
photo=$(first_line "$photos")
[ -f "$photo" ] || { echo "smoke: the demo wrote no photo" >&2; exit 1; }
begun=$(date +%s.%N)
start env QT_QPA_PLATFORM=xcb "$app/photofind-gui" --data-dir "$data" "$photo" >"$out/gui.log" 2>&1
gui=$started
window=
for _ in $(seq 1 120); do
    window=$(first_line "$(xdotool search --onlyvisible --pid "$gui" 2>/dev/null || true)")
    [ -n "$window" ] && break
    kill -0 "$gui" 2>/dev/null || { cat "$out/gui.log"; echo "smoke: the GUI exited" >&2; exit 1; }
    sleep 0.25
done
[ -n "$window" ] || { echo "smoke: no window after 30 s" >&2; exit 1; }
step "GUI window after $(echo "$(date +%s.%N) - $begun" | bc) s: $(xdotool getwindowname "$window")"
run sleep 8  # let the find-similar search finish and the thumbnails load
run import -window root "$out/bundle-gui.png"
kill -0 "$gui" || { cat "$out/gui.log"; exit 1; }
step "screenshot: $out/bundle-gui.png"
step "passed"
