"""Write python3-requirements.json: the Flatpak modules that install photofind's Python
dependencies from wheel files pinned by URL and sha256 (flatpak-builder downloads each and
checks its sha256; the build itself has no network).

    python packaging/flatpak/generate-sources.py                 # torch from PyPI
    python packaging/flatpak/generate-sources.py --torch-index https://download.pytorch.org/whl/cpu
    python packaging/flatpak/generate-sources.py --check         # check the committed file

Versions: one set for the Linux bundle and the Flatpak. requirements.txt names what to
install; packaging/pyinstaller/constraints.txt (the bundle's pins) fixes every version it
lists, torch and torchvision included (TORCH below, as build-linux.sh installs them).

Generating: pip resolves the requirements for the runtime's Python (3.12) and platform
(manylinux x86_64), wheels only, without installing or downloading them (`--dry-run
--report`; `--use-feature=fast-deps` reads each wheel's metadata with HTTP range requests).
Each file's URL and sha256 are the ones the index reported to pip, unchanged: nothing is
derived or guessed. pip runs `--isolated` (no local pip.conf, find-links or extra index).

On PyPI, torch for Linux x86_64 is the CUDA build and needs NVIDIA's CUDA wheels (a few
GB). PyTorch publishes the CPU-only build on its own index only: --torch-index takes torch
and torchvision from there (+cpu), which leaves all the CUDA wheels out.

Checking (--check, also after generating): every source's URL and sha256 must be listed,
together, by the index that serves it (PEP 691 JSON, or PEP 503 HTML), and the URL must
answer a download request with the size the index gives. `flatpak-builder --download-only`
does the full check: it downloads every file and verifies its sha256 (packaging/README.md).
"""

from __future__ import annotations

import argparse
import html.parser
import json
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE.parent / "pyinstaller" / "constraints.txt"
OUT = HERE / "python3-requirements.json"
INDEX = "https://pypi.org/simple"
PYTHON = "3.12"  # the KDE 6.8 runtime's (freedesktop SDK 24.08)
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
# As packaging/build-linux.sh installs them (torch 2.N <-> torchvision 0.(N+15)).
TORCH = {"torch": "2.13.0", "torchvision": "0.28.0"}
# Building photofind itself needs a setuptools newer than the SDK's (PEP 639 licence).
BUILD = {"setuptools": "84.2.1"}
# From the BaseApp (PySide6) or the runtime; never installed twice.
PROVIDED = {"pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6", "pip"}
# Part of torch's own module (its CUDA runtime, when torch is PyPI's CUDA build).
TORCH_PARTS = ("torch", "torchvision", "triton", "nvidia-", "cuda-")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(torch_index: str | None, index: str) -> list[dict]:
    """pip's resolution of requirements.txt + torch + setuptools, as the report's items."""
    suffix = "+cpu" if torch_index else ""
    wanted = [f"{name}=={version}{suffix}" for name, version in TORCH.items()]
    wanted += [f"{name}=={version}" for name, version in BUILD.items()]
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        # torch/torchvision are pinned above (with +cpu from PyTorch's index), not here.
        constraints.write_text("".join(
            line + "\n" for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines()
            if normalize(re.split(r"[=<>!~ ]", line, maxsplit=1)[0]) not in TORCH))
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run",
                   "--ignore-installed", "--quiet", "--report", str(report),
                   "--use-feature=fast-deps", "--only-binary=:all:", "--python-version", PYTHON,
                   "--implementation", "cp", "--target", str(Path(tmp) / "target"),
                   "--index-url", index, "-c", str(constraints), "-r", str(HERE / "requirements.txt")]
        command += [arg for platform in PLATFORMS for arg in ("--platform", platform)]
        if torch_index:
            command += ["--extra-index-url", torch_index]
        subprocess.run(command + wanted, check=True)
        return json.loads(report.read_text(encoding="utf-8"))["install"]


def source(item: dict) -> dict:
    info = item["download_info"]
    sha256 = info.get("archive_info", {}).get("hashes", {}).get("sha256")
    if not sha256:
        raise SystemExit(f"{info['url']}: the index gave no sha256 for this file")
    filename = urllib.parse.unquote(info["url"].rsplit("/", 1)[1])
    return {"type": "file", "url": info["url"], "dest-filename": filename, "sha256": sha256}


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


def generate(torch_index: str | None, index: str) -> dict:
    groups: dict[str, list[dict]] = {"build-setuptools": [], "torch": [], "photofind-deps": []}
    for item in sorted(resolve(torch_index, index), key=lambda i: normalize(i["metadata"]["name"])):
        name = normalize(item["metadata"]["name"])
        if name in PROVIDED:
            continue
        group = ("build-setuptools" if name in BUILD
                 else "torch" if name.startswith(TORCH_PARTS) else "photofind-deps")
        groups[group].append(source(item))
    return {"name": "python3-requirements", "buildsystem": "simple", "build-commands": [],
            "modules": [module(name, files) for name, files in groups.items()]}


# --- checking -----------------------------------------------------------------------------

def _get(url: str, accept: str = "*/*", byte_range: str | None = None):
    headers = {"Accept": accept, "User-Agent": "photofind-generate-sources"}
    if byte_range:
        headers["Range"] = byte_range
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120)


class _Links(html.parser.HTMLParser):  # a PEP 503 page: <a href="URL#sha256=...">file</a>
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base, self.files = base, []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            url, _, fragment = urllib.parse.urljoin(self.base, href).partition("#")
            hashes = dict([fragment.split("=", 1)]) if "=" in fragment else {}
            self.files.append({"url": url, "hashes": hashes, "size": None})


def index_files(index: str, project: str) -> list[dict]:
    """The files the index lists for a project: url, hashes, size (None if not given)."""
    page = f"{index.rstrip('/')}/{project}/"
    with _get(page, "application/vnd.pypi.simple.v1+json, text/html;q=0.1") as answer:
        body = answer.read().decode("utf-8")
        if "json" in answer.headers.get("Content-Type", ""):
            return [{"url": urllib.parse.urljoin(page, f["url"]), "hashes": f.get("hashes", {}),
                     "size": f.get("size")} for f in json.loads(body)["files"]]
    links = _Links(page)
    links.feed(body)
    return links.files


def project_of(filename: str) -> str:
    return normalize(filename.split("-", 1)[0])


def check(document: dict, indexes: list[str]) -> list[str]:
    """Problems with the sources of `document` (none: every URL and sha256 is the one an
    index lists, and the URL serves the file)."""
    problems, listed = [], {}
    sources = [s for m in document["modules"] for s in m["sources"]]
    for entry in sources:
        project = project_of(entry["dest-filename"])
        if not re.fullmatch(r"[0-9a-f]{64}", entry.get("sha256", "")):
            problems.append(f"{entry['dest-filename']}: no sha256 ({entry.get('sha256')!r})")
            continue
        found = None
        for index in indexes:
            if (index, project) not in listed:
                try:
                    listed[index, project] = index_files(index, project)
                except OSError:
                    listed[index, project] = []
            found = next((f for f in listed[index, project] if f["url"] == entry["url"]), None)
            if found:
                break
        if not found:
            problems.append(f"{entry['url']}: not listed by {' or '.join(indexes)}")
            continue
        if found["hashes"].get("sha256") != entry["sha256"]:
            problems.append(f"{entry['url']}: the index gives sha256 "
                            f"{found['hashes'].get('sha256')}, not {entry['sha256']}")
            continue
        try:  # the first byte only: the URL answers, with the size the index gives
            with _get(entry["url"], byte_range="bytes=0-0") as answer:
                total = answer.headers.get("Content-Range", "").rpartition("/")[2]
                if found["size"] is not None and total.isdigit() and int(total) != found["size"]:
                    problems.append(f"{entry['url']}: {total} bytes, the index says {found['size']}")
        except OSError as exc:
            problems.append(f"{entry['url']}: {exc}")
    print(f"checked {len(sources)} sources against {', '.join(indexes)}: "
          f"{len(sources) - len(problems)} listed with that sha256 and downloadable")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=INDEX, help=f"the Python package index ({INDEX})")
    parser.add_argument("--torch-index", default=None,
                        help="take the CPU-only torch/torchvision from this index, e.g. "
                             "https://download.pytorch.org/whl/cpu (default: PyPI's CUDA build)")
    parser.add_argument("--check", action="store_true",
                        help="only check the committed python3-requirements.json")
    args = parser.parse_args()
    if args.check:
        document = json.loads(OUT.read_text(encoding="utf-8"))
        urls = [s["url"] for m in document["modules"] for s in m["sources"]]
        indexes = [args.index] + ([args.torch_index] if args.torch_index else [])
        indexes += sorted({u.rsplit("/", 1)[0] for u in urls if "pythonhosted.org" not in u}
                          - set(indexes))
    else:
        document = generate(args.torch_index, args.index)
        OUT.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        count = sum(len(m["sources"]) for m in document["modules"])
        print(f"{OUT.relative_to(HERE.parents[1])}: {count} wheels pinned by URL and sha256")
        indexes = [args.index] + ([args.torch_index] if args.torch_index else [])
    problems = check(document, indexes)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
