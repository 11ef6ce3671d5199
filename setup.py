"""Only what pyproject.toml cannot say; everything else is there.

The application's assets live in ``resources/`` at the top of the source tree and are
shipped as the package ``photofind.resources``, so that
``importlib.resources.files("photofind.resources")`` finds them in an editable install,
an installed wheel and the PyInstaller bundle alike. setuptools' package discovery in
pyproject.toml cannot be combined with such a mapping, so the packages are given here:
every package under ``photofind/`` (discovered), the demo model's folder (data only, no
``__init__.py``: declared so that setuptools ships it as a package of its own rather than
warning that it "would be ignored"), plus the mapped one.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["photofind", "photofind.*"]), "photofind.models.demo",
              "photofind.resources"],
    package_dir={"photofind.resources": "resources"},
)
