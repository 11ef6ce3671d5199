"""The entry point of both programs in the PyInstaller bundle: `photofind` (the command
line) and `photofind-gui` (the desktop app) are the same code, told apart by their name."""

import multiprocessing
import os
import sys


def main() -> int:
    name = os.path.basename(sys.executable).lower()
    if name.startswith("photofind-gui"):
        from photofind.gui.app import main as gui

        return gui()
    from photofind.cli import main as cli

    return cli()


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
