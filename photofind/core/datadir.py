"""Where photofind keeps its own files: the catalog, the vector index, thumbnails, models, logs.

`--data-dir` beats `PHOTOFIND_DATA_DIR`, which beats the platform default. Everything is
created owner-only. Nothing here ever points inside a library folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

ENV_VAR = "PHOTOFIND_DATA_DIR"


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.db"

    @property
    def index(self) -> Path:
        return self.root / "vectors.usearch"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def thumbnails(self) -> Path:
        return self.root / "thumbnails"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def lock(self) -> Path:
        return self.root / "writer.lock"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    def ensure(self) -> DataDir:
        """Create the directory tree, owner-only (0700)."""
        for path in (self.root, self.models, self.logs, self.backups):
            make_private_dir(path)
        return self


def make_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        os.chmod(path, 0o700)


def resolve(cli_value: str | os.PathLike[str] | None = None) -> DataDir:
    """The data directory: the command line's choice, else the environment's, else the platform's."""
    if cli_value:
        chosen = Path(cli_value)
    elif os.environ.get(ENV_VAR):
        chosen = Path(os.environ[ENV_VAR])
    else:
        chosen = Path(platformdirs.user_data_dir("photofind", appauthor=False))
    return DataDir(chosen.expanduser().absolute())
