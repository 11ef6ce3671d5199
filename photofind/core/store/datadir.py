"""Where photofind keeps its own files: the catalog, the vector index, thumbnails, models, logs.

`--data-dir` beats `PHOTOFIND_DATA_DIR`, which beats the platform default. Everything
photofind creates is owner-only; a folder it did not create keeps its mode (a chosen
`--data-dir` may be shared), and one that every user may write to is refused, since others
could plant files where photofind keeps private data. Nothing here ever points inside a
library folder.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from photofind.core.errors import PhotofindError

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
        """Create the directory tree, owner-only (0700); a one-line PhotofindError when it
        cannot be created, or when the data directory is writable by every user."""
        for path in (self.root, self.models, self.logs, self.backups):
            try:
                make_private_dir(path)
            except OSError as exc:
                raise PhotofindError(
                    f"photofind cannot create its data folder {path} ({exc.strerror or exc}); "
                    "choose a folder you can write with --data-dir or PHOTOFIND_DATA_DIR"
                ) from None
            if path == self.root:
                refuse_shared(path)
        return self


def make_private_dir(path: Path) -> None:
    """Create `path` owner-only (its missing parents with the usual mode). A folder that
    exists already is left as it is: photofind never changes the mode of a folder it
    did not create."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(20, "it exists and is not a folder", str(path)) from None
        return  # made meanwhile by another photofind
    if os.name == "posix":
        os.chmod(path, 0o700)  # whatever the umask


def refuse_shared(path: Path) -> None:
    """A PhotofindError for a data directory that every user may write to (such as the
    system's temporary folder): others could plant or swap files there."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & stat.S_IWOTH:
        raise PhotofindError(
            f"{path} can be written by every user of this computer, and photofind keeps "
            f"private data in its data folder; use a folder of your own, for example "
            f"--data-dir {path / 'photofind'}")


def check_usable(root: Path) -> None:
    """A one-line PhotofindError when the chosen data directory exists but is not a folder."""
    if root.exists() and not root.is_dir():
        raise PhotofindError(f"the data folder {root} is a file, not a folder; choose a folder "
                             "with --data-dir or PHOTOFIND_DATA_DIR")


def resolve(cli_value: str | os.PathLike[str] | None = None) -> DataDir:
    """The data directory: the command line's choice, else the environment's, else the platform's."""
    if cli_value:
        chosen = Path(cli_value)
    elif os.environ.get(ENV_VAR):
        chosen = Path(os.environ[ENV_VAR])
    else:
        chosen = Path(platformdirs.user_data_dir("photofind", appauthor=False))
    return DataDir(chosen.expanduser().absolute())
