"""photofind's assets, shipped inside the wheel as the package ``photofind.resources``.

This folder is ``resources/`` at the top of the source tree; pyproject.toml maps it to
``photofind.resources`` (``[tool.setuptools.package-dir]``), so
``importlib.resources.files("photofind.resources")`` finds the same files in a source
checkout (editable install), an installed wheel and the PyInstaller bundle.

- ``app-icons/io.github.photofind.Photofind.svg``: the application icon (the source);
- ``app-icons/hicolor/<N>x<N>/apps/io.github.photofind.Photofind.png``: rendered from it by
  ``packaging/icons/make_icons.py``;
- ``io.github.photofind.Photofind.desktop`` and ``io.github.photofind.Photofind.metainfo.xml``:
  the freedesktop desktop entry and AppStream metadata, installed by
  ``photofind install-desktop`` and by the Flatpak build.

Data folders here have names that are not Python identifiers (``app-icons``, ``16x16``):
setuptools would otherwise take a folder such as ``icons`` for a namespace package and
warn that it is "absent from the packages configuration".
"""
