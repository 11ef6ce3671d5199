"""Packaging: the assets ship inside the package (importlib.resources), the desktop entry
and the AppStream metainfo agree with each other and with the project, and the wheel
carries everything."""

from __future__ import annotations

import configparser
import importlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest
from PIL import Image

import photofind
from photofind.core.decode import EXTENSIONS
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
        for source in module["sources"]:
            pinned[source["dest-filename"].split("-")[0].lower()] = source
            assert source["url"].startswith("https://")
            assert source["url"].endswith(source["dest-filename"].replace("+", "%2B"))
    for name in ("open_clip_torch", "usearch", "pillow", "numpy", "setuptools", "torch"):
        assert name in pinned
    assert not any(name.startswith(("nvidia", "pyside6", "shiboken6", "triton")) for name in pinned)
    for name, source in pinned.items():
        if name not in ("torch", "torchvision"):  # those need PyTorch's index (README)
            assert len(source["sha256"]) == 64, name


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
    process (embedder.run_export), in front of the person: onnxruntime.quantization's
    "Please consider to run pre-processing before quantization" must not reach them."""
    script = (
        "import sys; sys.frozen = True  # as in the bundle\n"
        "from pathlib import Path\n"
        "from photofind.core.embedder import ModelSpec, exported_image_tower, run_export\n"
        f"cache = Path({str(tmp_path / 'cache')!r})\n"
        "run_export(ModelSpec.demo(), cache, 'int8')\n"
        "assert exported_image_tower(cache, ModelSpec.demo().model_id(), 'int8')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
    assert list((tmp_path / "cache").rglob("text-int8.onnx"))  # both towers were quantised
