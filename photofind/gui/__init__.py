"""photofind's desktop app (PySide6): a window on top of `photofind.core`.

The core reports through plain callbacks; the workers here turn those into Qt signals,
and only the GUI thread touches widgets. Start it with `photofind gui` or `photofind-gui`.
"""
