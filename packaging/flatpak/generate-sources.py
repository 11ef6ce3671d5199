"""Write python3-requirements.json: the Flatpak modules that install photofind's Python
dependencies from pinned wheel files (flatpak-builder downloads each by URL and checks its
sha256; the build itself has no network).

    python packaging/flatpak/generate-sources.py

Resolves requirements.txt for the runtime's Python (3.12) and platform with `pip download`
(wheels only), then records each file's URL and sha256. PyPI files get PyPI's stable
per-file URL (files.pythonhosted.org/packages/<python tag>/<initial>/<project>/<file>).
torch and torchvision come from PyPI's index as the CPU-only builds on
https://download.pytorch.org/whl/cpu; run this where that index is reachable
(--torch-index), otherwise their entries are written with the URL and no sha256, and
flatpak-builder refuses to build until they are filled in.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux_2_5_x86_64", "linux_x86_64")
TORCH = {"torch": "2.13.0", "torchvision": "0.28.0"}
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
BUILD_REQUIREMENT = "setuptools==84.2.1"
# From the BaseApp (PySide6) or the runtime; never bundled twice.
PROVIDED = {"pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6", "setuptools", "pip",
            "triton"}  # triton: only for the CUDA torch


def download(args: list[str], dest: Path, python: str) -> list[Path]:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
               "--python-version", python, "--implementation", "cp", "--dest", str(dest)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command + args, check=True)
    return sorted(dest.glob("*.whl"))


def project(filename: str) -> str:
    return filename.split("-")[0]


def module(name: str, files: list[dict]) -> dict:
    return {
        "name": f"python3-{name}",
        "buildsystem": "simple",
        "build-commands": [
            'pip3 install --verbose --exists-action=i --no-index --find-links="file://${PWD}" '
            f'--prefix=${{FLATPAK_DEST}} --no-deps --no-build-isolation {" ".join(f["dest-filename"] for f in files)}'
        ],
        "sources": files,
    }


def entry(path: Path, url: str) -> dict:
    return {"type": "file", "url": url, "dest-filename": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def pypi_url(filename: str) -> str:
    tag = filename[:-4].split("-")[-3]  # name-version(-build)-PYTAG-ABI-PLATFORM.whl
    name = project(filename)
    return f"https://files.pythonhosted.org/packages/{tag}/{name[0]}/{name}/{filename}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.12", help="the runtime's Python (KDE 6.8: 3.12)")
    parser.add_argument("--torch-index", default=None,
                        help=f"fetch the CPU-only torch/torchvision from here (e.g. {TORCH_INDEX})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        deps = Path(tmp) / "deps"
        wheels = download(["-r", str(HERE / "requirements.txt")], deps, args.python)
        sources = []
        for wheel in wheels:
            name = re.sub(r"[-_.]+", "-", project(wheel.name)).lower()
            if name in PROVIDED or name in TORCH or name.startswith("nvidia-"):
                continue  # torch comes CPU-only below; the CUDA libraries never
            sources.append(entry(wheel, pypi_url(wheel.name)))
        torch_files = []
        tag = "cp" + args.python.replace(".", "")
        for name, version in TORCH.items():
            filename = f"{name}-{version}+cpu-{tag}-{tag}-manylinux_2_28_x86_64.whl"
            url = f"{TORCH_INDEX}/{filename.replace('+', '%2B')}"
            if args.torch_index:
                got = download(["--no-deps", "--index-url", args.torch_index,
                                f"{name}=={version}+cpu"], Path(tmp) / name, args.python)
                torch_files.append(entry(got[0], url))
            else:
                torch_files.append({"type": "file", "url": url, "dest-filename": filename,
                                    "sha256": "fill-in-run-generate-sources.py-with-torch-index"})
        # Building photofind itself needs a setuptools newer than the SDK's (PEP 639 license).
        build = download(["--no-deps", BUILD_REQUIREMENT], Path(tmp) / "build", args.python)
        build_files = [entry(wheel, pypi_url(wheel.name)) for wheel in build]
    modules = [module("build-setuptools", build_files), module("torch-cpu", torch_files),
               module("photofind-deps", sources)]
    document = {"name": "python3-requirements", "buildsystem": "simple",
                "build-commands": [], "modules": modules}
    out = HERE / "python3-requirements.json"
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"{out}: {len(sources)} wheels pinned by sha256, torch/torchvision "
          f"{'pinned' if args.torch_index else 'WITHOUT sha256 (no --torch-index)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
