"""Commands quoted in messages, as the person must type them: a hint such as "run
'photofind index FOLDER'" names this data directory when it is not the platform's
default, so that it works when pasted (after `photofind --data-dir X demo`, the advice
to search must search X)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import platformdirs

# "photofind SUBCOMMAND" not already given a data directory, and not a lock holder's
# name ("pid 12, 'photofind gui'"): that names a program, not advice
_COMMAND = re.compile(r"(?<!, ')\bphotofind (?!--data-dir)"
                      r"(?=(?:index|search|similar|status|watch|demo|gui|library)\b)")

_data_dir: Path | None = None


def use_data_dir(root: Path | str | None) -> None:
    """The data directory this command works on (None: the platform's default)."""
    global _data_dir
    _data_dir = Path(root) if root is not None else None


def default_root() -> Path:
    return Path(platformdirs.user_data_dir("photofind", appauthor=False))


def pasteable(text: str) -> str:
    """`text` with `--data-dir DIR` in each photofind command it quotes, unless DIR is the
    platform's default."""
    if _data_dir is None or _same(_data_dir, default_root()):
        return text
    return _COMMAND.sub(f"photofind --data-dir {quote(str(_data_dir))} ", text)


def quote(path: str) -> str:
    """`path` for a shell, in double quotes where it needs quoting: hints sit inside
    single quotes ("run 'photofind index FOLDER'")."""
    if shlex.quote(path) == path:
        return path
    if not any(c in path for c in '"$`\\!'):
        return f'"{path}"'
    return shlex.quote(path)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return a == b
