"""Packaging: the assets ship inside the package (importlib.resources), the desktop entry
and the AppStream metainfo agree with each other and with the project, and the wheel
carries everything."""

from __future__ import annotations

import configparser
import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest
from PIL import Image

import photofind
from photofind.core.media.decode import EXTENSIONS
from photofind.desktop import APP_ID, ICON_SIZES, icon_png

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# The MIME type of every file extension photofind indexes ("Open with photofind").
MIME_OF = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".jfif": "image/jpeg",
    ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".tif": "image/tiff",
    ".tiff": "image/tiff", ".bmp": "image/bmp", ".heic": "image/heic", ".heif": "image/heif",
    ".hif": "image/heif", ".avif": "image/avif",
}


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string((files("photofind.resources") / f"{APP_ID}.desktop").read_text("utf-8"))
    return parser["Desktop Entry"]


def metainfo() -> ET.Element:
    return ET.fromstring((files("photofind.resources") / f"{APP_ID}.metainfo.xml").read_bytes())


def test_the_icon_ships_at_every_size_the_desktop_asks_for():
    assert ICON_SIZES == (16, 24, 32, 48, 64, 128, 256, 512)
    for size in ICON_SIZES:
        with Image.open(icon_png(size).open("rb")) as image:
            assert image.size == (size, size)
            assert image.mode == "RGBA"
    svg = ET.fromstring((files("photofind.resources") / "app-icons" / f"{APP_ID}.svg").read_bytes())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"


def test_the_desktop_entry_launches_the_gui_on_a_photo():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "photofind-gui %f"  # install-desktop makes the path absolute
    assert entry["TryExec"] == "photofind-gui"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    mime_types = set(filter(None, entry["MimeType"].split(";")))
    assert mime_types == {MIME_OF[ext] for ext in EXTENSIONS}


def test_the_metainfo_describes_the_same_app():
    component = metainfo()
    assert component.get("type") == "desktop-application"
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable[@type='desktop-id']") == f"{APP_ID}.desktop"
    assert component.findtext("icon[@type='stock']") == APP_ID
    assert component.findtext("project_license") == PYPROJECT["project"]["license"]
    assert component.find("releases/release").get("version") == photofind.__version__
    binaries = {b.text for b in component.findall("provides/binary")}
    scripts = PYPROJECT["project"]["scripts"] | PYPROJECT["project"]["gui-scripts"]
    assert binaries == set(scripts)
    media = {m.text for m in component.findall("provides/mediatype")}
    assert media == set(filter(None, desktop_entry()["MimeType"].split(";")))
    for image in component.findall("screenshots/screenshot/image"):
        assert image.text.startswith("https://raw.githubusercontent.com/")
        assert "/docs/screenshots/" in image.text


def test_the_entry_points_exist():
    scripts = PYPROJECT["project"]["scripts"] | PYPROJECT["project"]["gui-scripts"]
    assert set(scripts) == {"photofind", "photofind-gui"}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("validator", [
    ["desktop-file-validate", f"{APP_ID}.desktop"],
    ["appstreamcli", "validate", "--no-net", f"{APP_ID}.metainfo.xml"],
])
def test_the_desktop_files_pass_the_freedesktop_validators(validator):
    if not shutil.which(validator[0]):
        pytest.skip(f"{validator[0]} is not installed (apt-get install desktop-file-utils "
                    "appstream); .ci/run installs it")
    folder = ROOT / "resources"
    done = subprocess.run(validator, cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_wheel_carries_the_resources_and_every_package(tmp_path):
    setuptools_version = importlib.metadata.version("setuptools")
    if int(setuptools_version.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools_version} is too old to build the wheel (needs 77)")
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("photofind", "resources"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "wheel"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # setuptools' warnings (e.g. a data folder "absent from the `packages` configuration",
    # which "would be ignored" by a future setuptools) come as a block between "!!" lines.
    build_log = done.stdout + done.stderr
    assert "absent from the `packages` configuration" not in build_log, build_log
    assert "Warning:" not in build_log, build_log
    (wheel,) = (tmp_path / "wheel").glob("photofind-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    for package in sorted(p.parent for p in (ROOT / "photofind").rglob("__init__.py")):
        assert f"{package.relative_to(ROOT).as_posix()}/__init__.py" in names
    shipped = {f"photofind/resources/{p.relative_to(ROOT / 'resources').as_posix()}"
               for p in (ROOT / "resources").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped <= names
    assert f"photofind/resources/app-icons/hicolor/512x512/apps/{APP_ID}.png" in names
    for name in ("open_clip_config.json", "open_clip_model.safetensors", "README.md"):
        assert f"photofind/models/demo/{name}" in names  # the offline demo works from a wheel
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "photofind = photofind.cli:main" in text
    assert "photofind-gui = photofind.gui.app:main" in text


def test_the_flatpak_manifest_builds_the_same_app():
    yaml = pytest.importorskip("yaml")
    flatpak = ROOT / "packaging" / "flatpak"
    manifest = yaml.safe_load((flatpak / f"{APP_ID}.yml").read_text(encoding="utf-8"))
    assert manifest["id"] == APP_ID
    assert manifest["command"] in PYPROJECT["project"]["gui-scripts"]
    assert "python3-requirements.json" in manifest["modules"]
    photofind_module = manifest["modules"][-1]
    commands = "\n".join(photofind_module["build-commands"])
    for shipped in ("resources/${FLATPAK_ID}.desktop", "resources/${FLATPAK_ID}.metainfo.xml",
                    "resources/app-icons/${FLATPAK_ID}.svg"):
        assert shipped in commands
        assert (ROOT / shipped.replace("${FLATPAK_ID}", APP_ID)).is_file()

    requirements = json.loads((flatpak / "python3-requirements.json").read_text("utf-8"))
    pinned = {}
    for module in requirements["modules"]:
        assert module["sources"], module["name"]
        for source in module["sources"]:
            filename = source["dest-filename"]
            pinned[_name(filename.split("-")[0])] = filename.split("-")[1]
            # The URL as the index lists it (PyPI: /packages/xx/yy/<blake2 digest>/FILE;
            # the short /packages/<tag>/<initial>/<project>/FILE form answered 404), and a
            # real sha256: flatpak-builder downloads and verifies each.
            assert source["url"].startswith("https://")
            assert urllib.parse.unquote(source["url"].rsplit("/", 1)[1]) == filename
            if "pythonhosted.org" in source["url"]:
                assert re.fullmatch(r"https://files\.pythonhosted\.org/packages/"
                                    r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+", source["url"])
            assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"]), filename
            assert filename in module["build-commands"][0]
    for name in ("open-clip-torch", "usearch", "pillow", "numpy", "setuptools", "torch",
                 "torchvision"):
        assert name in pinned
    assert not any(name.startswith(("pyside6", "shiboken6")) for name in pinned)  # BaseApp
    # One set of pins: the Flatpak installs what the Linux bundle is built with.
    constraints = ROOT / "packaging" / "pyinstaller" / "constraints.txt"
    for line in constraints.read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            if _name(name) in pinned:
                assert pinned[_name(name)] == version.strip(), name
    assert len(set(pinned) & {_name(line.split("==")[0])
                              for line in constraints.read_text().splitlines()}) >= 40


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_the_bundle_and_the_flatpak_pin_every_dependency():
    """A dependency added to pyproject.toml must be pinned for the Linux bundle and the
    Flatpak too (torch/torchvision are chosen by the build; PySide6 comes from the BaseApp)."""
    wanted = {_name(r) for r in PYPROJECT["project"]["dependencies"]} - {"torch", "torchvision"}
    packaging = ROOT / "packaging"
    for path, exempt in ((packaging / "pyinstaller" / "constraints.txt", set()),
                         (packaging / "flatpak" / "requirements.txt", {"pyside6-essentials"})):
        lines = path.read_text(encoding="utf-8").splitlines()
        pinned = {_name(line) for line in lines if line.strip() and not line.startswith("#")}
        assert wanted - exempt <= pinned, f"{path.relative_to(ROOT)} lacks {wanted - exempt - pinned}"


def test_the_bundled_app_exports_its_model_without_printing_library_advice(tmp_path):
    """The PyInstaller bundle has no `python -m`, so it exports the ONNX towers in its own
    process (exportrun.run_export with the embedder's `export_here`), in front of the person: onnxruntime.quantization's
    "Please consider to run pre-processing before quantization" must not reach them."""
    script = (
        "import sys; sys.frozen = True  # as in the bundle\n"
        "from pathlib import Path\n"
        "from photofind.core.model.embedder import export_here\n"
        "from photofind.core.model.exportrun import run_export\n"
        "from photofind.core.model.specs import ModelSpec\n"
        "from photofind.core.model.towers import exported_image_tower\n"
        f"cache = Path({str(tmp_path / 'cache')!r})\n"
        "run_export(ModelSpec.demo(), cache, 'int8',\n"
        "           here=lambda: export_here(ModelSpec.demo(), cache, 'int8'))\n"
        "assert exported_image_tower(cache, ModelSpec.demo().model_id(), 'int8')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
    assert list((tmp_path / "cache").rglob("text-int8.onnx"))  # both towers were quantised


# packaging/smoke-test-linux.sh, run on this environment's photofind (a folder of links to
# its programs stands in for the bundle): the same script, the same app, seconds not minutes.
SMOKE = ROOT / "packaging" / "smoke-test-linux.sh"
SMOKE_TOOLS = ("Xvfb", "xdotool", "import", "bc")


def _smoke_run(tmp_path):
    missing = [tool for tool in SMOKE_TOOLS if not shutil.which(tool)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed "
                    "(apt-get install xvfb xdotool imagemagick bc)")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ("photofind", "photofind-gui"):
        program = Path(sysconfig.get_path("scripts")) / name
        assert program.is_file(), f"{program}: photofind is not installed in this environment"
        (bundle / name).symlink_to(program)
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    env.update(PHOTOFIND_BUNDLE=str(bundle), PHOTOFIND_SMOKE_MARKER=marker,
               HOME=str(tmp_path / "home"))
    script = subprocess.Popen(["bash", str(SMOKE), str(tmp_path / "out")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return script, marker


def _processes_of(marker: str) -> list[str]:
    """The live processes whose environment carries `marker` (what the script started and
    their children), as "PID command line"."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if f"PHOTOFIND_SMOKE_MARKER={marker}".encode() in environ.read_bytes().split(b"\0"):
                status = (environ.parent / "stat").read_text()
                if status.rsplit(")", 1)[1].split()[0] != "Z":  # a zombie has ended
                    command = (environ.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                    found.append(f"{environ.parent.name} {command.decode(errors='replace')}")
    return found


def _read_until(script, text: str, timeout: float = 300) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = script.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    script.kill()
    raise AssertionError(f"no {text!r} from the smoke test:\n" + "".join(seen))


def _assert_nothing_left(marker: str) -> None:
    deadline = time.monotonic() + 6  # the script gives what it ends 4 s before SIGKILL
    while (left := _processes_of(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, "left running:\n" + "\n".join(left)


def test_the_smoke_test_passes_and_ends_everything_it_started(tmp_path):
    script, marker = _smoke_run(tmp_path)
    output, _ = script.communicate(timeout=600)
    assert script.returncode == 0, output
    assert "smoke: GUI window after" in output and "smoke: passed" in output
    with Image.open(tmp_path / "out" / "bundle-gui.png") as screenshot:
        assert screenshot.size == (1280, 800)
    _assert_nothing_left(marker)


def test_a_smoke_test_stopped_during_the_demo_ends_what_it_started(tmp_path):
    """SIGTERM (as `timeout` sends) while the demo runs: bash would wait for a foreground
    command before running its trap; the script must end the demo at once."""
    script, marker = _smoke_run(tmp_path)
    _read_until(script, "smoke: photofind ")
    deadline = time.monotonic() + 60
    while not any(" demo " in p for p in _processes_of(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    script.send_signal(signal.SIGTERM)
    script.communicate(timeout=30)
    assert script.returncode == 143
    _assert_nothing_left(marker)


def test_a_smoke_test_killed_with_its_window_open_leaves_no_process(tmp_path):
    """SIGKILL runs no trap: Xvfb and the app still end, through PR_SET_PDEATHSIG."""
    script, marker = _smoke_run(tmp_path)
    _read_until(script, "smoke: GUI window after")
    assert any("Xvfb" in p for p in _processes_of(marker))
    script.kill()
    script.communicate(timeout=30)
    _assert_nothing_left(marker)


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_bundle = _load(ROOT / "packaging" / "check-bundle.py")


def _shared_object(path: Path, tag: str, search_path: str) -> Path:
    """A minimal 64-bit ELF shared object with one RPATH or RUNPATH: what the loader
    reads (program headers, the dynamic section, its string table) and nothing else."""
    strings = b"\0" + search_path.encode() + b"\0"
    strtab = 64 + 2 * 56
    dynamic = (strtab + len(strings) + 7) // 8 * 8
    entries = [(5, strtab), (15 if tag == "RPATH" else 29, 1), (0, 0)]
    end = dynamic + 16 * len(entries)
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 3, 62, 1, 0, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    phdrs = struct.pack("<IIQQQQQQ", 1, 4, 0, 0, 0, end, end, 0x1000) + struct.pack(
        "<IIQQQQQQ", 2, 6, dynamic, dynamic, dynamic, end - dynamic, end - dynamic, 8)
    body = header + phdrs + strings
    body += bytes(dynamic - len(body)) + b"".join(struct.pack("<qQ", *e) for e in entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_the_bundle_check_reads_search_paths_as_the_loader_does(tmp_path):
    so = _shared_object(tmp_path / "libpython3.11.so.1.0", "RUNPATH", "/root/.pyenv/lib")
    assert check_bundle.runpaths(so) == {"RUNPATH": "/root/.pyenv/lib"}
    so = _shared_object(tmp_path / "old.so", "RPATH", "$ORIGIN/../lib")
    assert check_bundle.runpaths(so) == {"RPATH": "$ORIGIN/../lib"}
    assert check_bundle.runpaths(ROOT / "README.md") is None
    # A real extension module: numpy's, built with RPATH $ORIGIN/../../numpy.libs.
    (numpy_so,) = Path(importlib.util.find_spec("numpy").origin).parent.glob(
        "_core/_multiarray_umath.*.so")
    assert check_bundle.runpaths(numpy_so) == {"RPATH": "$ORIGIN/../../numpy.libs"}


def test_the_bundle_check_refuses_what_leans_on_the_build_machine(tmp_path):
    bundle = tmp_path / "photofind"
    internal = bundle / "_internal"
    (numpy_so,) = Path(importlib.util.find_spec("numpy").origin).parent.glob(
        "_core/_multiarray_umath.*.so")
    (internal / "numpy" / "_core").mkdir(parents=True)
    shutil.copy2(numpy_so, internal / "numpy" / "_core" / numpy_so.name)  # $ORIGIN/../.. inside
    _shared_object(internal / "libtorch_cpu.so", "RUNPATH", "$ORIGIN:$ORIGIN/../lib")
    (internal / "libz.so.1").write_bytes(b"")
    (internal / "libz.b9a71669.so.1").symlink_to("libz.so.1")
    assert check_bundle.problems(bundle, cpu_only=True)[0] == []

    _shared_object(internal / "libpython3.11.so.1.0", "RUNPATH", "/root/.pyenv/versions/3.11.7/lib")
    _shared_object(internal / "torch" / "lib" / "libshm.so", "RUNPATH",
                   "$ORIGIN:/lib/intel64:$ORIGIN/../../../../outside")
    shutil.copy2(numpy_so, internal / numpy_so.name)  # $ORIGIN/../../numpy.libs: outside
    (internal / "libcudart.so.13").write_bytes(b"")
    (internal / "libpng16.1c0b398e.so.16").symlink_to("torchvision.libs/libpng16.1c0b398e.so.16")
    (internal / "libc.so.6").symlink_to("/lib/x86_64-linux-gnu/libc.so.6")
    found, elves = check_bundle.problems(bundle, cpu_only=True)
    assert elves == 5
    assert sorted(found) == sorted([
        f"_internal/{numpy_so.name}: RPATH leaves the bundle: $ORIGIN/../../numpy.libs",
        "_internal/libc.so.6: symbolic link out of the bundle (-> /lib/x86_64-linux-gnu/libc.so.6)",
        "_internal/libcudart.so.13: a CUDA library in a CPU-only bundle",
        "_internal/libpng16.1c0b398e.so.16: broken symbolic link "
        "(-> torchvision.libs/libpng16.1c0b398e.so.16)",
        "_internal/libpython3.11.so.1.0: RUNPATH leaves the bundle: /root/.pyenv/versions/3.11.7/lib",
        "_internal/torch/lib/libshm.so: RUNPATH leaves the bundle: /lib/intel64:$ORIGIN/../../../../outside",
    ])
    # A bundle built with a CUDA torch may carry CUDA libraries.
    assert not any("CUDA" in p for p in check_bundle.problems(bundle, cpu_only=False)[0])
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "check-bundle.py"),
                           str(bundle), "--cpu-only"], capture_output=True, text=True)
    assert done.returncode == 1
    assert "6 problem(s)" in done.stdout and "libcudart.so.13" in done.stderr
