"""Render photofind's application icon from its SVG source into every file a desktop asks for.

    python packaging/icons/make_icons.py

writes, from resources/app-icons/io.github.photofind.Photofind.svg:
- resources/app-icons/hicolor/<N>x<N>/apps/io.github.photofind.Photofind.png for the
  freedesktop sizes (shipped in the wheel; `photofind install-desktop` copies them),
- packaging/windows/photofind.ico (16–256 px) and packaging/macos/photofind.icns for the
  PyInstaller builds on those systems.

Rendering uses Qt's SVG renderer (PySide6 is already a dependency) and Pillow for .ico and
.icns, so no extra tool is needed. The outputs are committed; run this again after
changing the SVG.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

APP_ID = "io.github.photofind.Photofind"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ROOT = Path(__file__).resolve().parents[2]
SVG = ROOT / "resources" / "app-icons" / f"{APP_ID}.svg"


def render(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    images = {}
    for size in SIZES:
        png = render(size)
        # Re-encode through Pillow: smaller files, and no timestamp or Qt text chunks,
        # so rendering the same SVG again gives the same bytes.
        image = Image.open(io.BytesIO(png)).convert("RGBA")
        images[size] = image
        out = ROOT / "resources" / "app-icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out, "PNG", optimize=True)
        print(out.relative_to(ROOT))
    ico = ROOT / "packaging" / "windows" / "photofind.ico"
    ico.parent.mkdir(parents=True, exist_ok=True)
    small = [images[s] for s in SIZES if s <= 256]
    # Each size is its own rendering (append_images), not a scaled-down 256 px image.
    small[-1].save(ico, format="ICO", sizes=[im.size for im in small], append_images=small[:-1])
    print(ico.relative_to(ROOT))
    icns = ROOT / "packaging" / "macos" / "photofind.icns"
    icns.parent.mkdir(parents=True, exist_ok=True)
    images[512].save(icns, format="ICNS",
                     append_images=[images[s] for s in (16, 32, 64, 128, 256)])
    print(icns.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
