"""Only what pyproject.toml cannot say; everything else is there.

The application's assets live in ``resources/`` at the top of the source tree and are
shipped as the package ``photofind.resources``, so that
``importlib.resources.files("photofind.resources")`` finds them in an editable install,
an installed wheel and the PyInstaller bundle alike. setuptools' package discovery in
pyproject.toml cannot be combined with such a mapping, so the packages are given here:
every package under ``photofind/`` (discovered), the mapped one, and every folder of data
files that Python could import as a package (``photofind/models/demo``,
``resources/phrases``: no ``__init__.py``). setuptools ships those only if they are
declared, and warns otherwise that they "would be ignored"; their files are listed in
pyproject.toml's ``[tool.setuptools.package-data]``.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def data_packages(folder: Path, package: str) -> list[str]:
    """The folders under `folder` without __init__.py whose names are importable, as
    package names under `package` (a folder like app-icons/ is not importable: skipped)."""
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_dir() and "__pycache__" not in parts and not (path / "__init__.py").exists() \
                and all(part.isidentifier() for part in parts):
            found.append(".".join((package, *parts)))
    return found


setup(
    packages=[*find_packages(include=["photofind", "photofind.*"]),
              *data_packages(HERE / "photofind", "photofind"),
              "photofind.resources", *data_packages(HERE / "resources", "photofind.resources")],
    package_dir={"photofind.resources": "resources"},
)
