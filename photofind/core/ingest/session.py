"""One-shot writes: the library to itself for a few commands, with no worker running.

`photofind index`, `demo` and `library remove`, and the desktop app's setup steps (the
first folders, the demo, a new model) all come here; `photofind watch` and the app's
live updates go through the library worker (worker.py). Both hold the one `Writer`
(writer.py) for as long as they run. The demo/model policy lives here, once:

- the demo is refused in a data directory that indexes other photos with another model;
- indexing folders other than the demo's with the demo model is said (the demo model
  knows only the demo's shapes).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from photofind.core.errors import PhotofindError
from photofind.core.ingest.commands import (
    AddRoots,
    Command,
    IndexPaths,
    RemoveRoot,
    Rescan,
    SetModel,
    WriteDemo,
)
from photofind.core.ingest.indexreport import IndexReport, ProgressFn
from photofind.core.ingest.writer import Writer
from photofind.core.model.specs import ModelSpec, active_spec
from photofind.core.store.datadir import DataDir

DEMO_FOLDER = "demo-library"


def demo_folder(data_dir: DataDir):
    return data_dir.root / DEMO_FOLDER


def demo_conflict(catalog, face: str) -> PhotofindError | None:
    """Why the demo may not run in this data directory (it indexes other photos with
    another model), or None. `face`: the command to suggest ("demo", "gui")."""
    demo = ModelSpec.demo()
    current = active_spec(catalog)
    if current and current.model_id() != demo.model_id() and catalog.count_photos():
        return PhotofindError(
            f"this data directory already indexes your photos with {current}; run the demo "
            f"in a data directory of its own: photofind --data-dir ~/photofind-demo {face}")
    return None


def demo_model_misused(model: ModelSpec | None, data_dir: DataDir, folders,
                       spec: ModelSpec | None = None) -> bool:
    """True when `folders` other than the demo's are about to be indexed with the demo
    model (the library's `model`, kept from an earlier demo; no other `spec` asked for).
    The CLI says so; the app asks whether to switch to the standard model."""
    demo_library = os.path.realpath(demo_folder(data_dir))
    return spec is None and model == ModelSpec.demo() \
        and any(os.path.realpath(folder) != demo_library for folder in folders)


DEMO_MODEL_NOTE = ("this data directory uses the demo model, which knows only the demo's "
                   "shapes; for your own photos use a data directory of their own: "
                   "photofind --data-dir ~/photofind-photos index FOLDER")


class WriteSession:
    """The library's writer for a few typed commands (`run`), then closed. Raises
    `WriterBusy` when another process holds the library."""

    def __init__(self, data_dir: DataDir, purpose: str, notify: Callable[[str], None] | None = None,
                 on_progress: ProgressFn | None = None, face: str = "demo") -> None:
        self.data_dir = data_dir
        self.notify = notify or (lambda message: None)
        self.on_progress = on_progress
        self.face = face
        self._writer = Writer(data_dir, purpose, notify=self.notify)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> WriteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what it can tell without writing -----------------------------------------------

    def roots(self) -> list[str]:
        return self._writer.catalog.roots()

    def model(self) -> ModelSpec | None:
        """The library's model (None before the first)."""
        return active_spec(self._writer.catalog)

    def model_for(self, spec: ModelSpec | None) -> ModelSpec:
        """The model `SetModel(spec)` would load."""
        return spec or self.model() or ModelSpec.default()

    def demo_conflict(self) -> PhotofindError | None:
        return demo_conflict(self._writer.catalog, self.face)

    def demo_model_misused(self, roots, spec: ModelSpec | None) -> bool:
        return demo_model_misused(self.model(), self.data_dir, roots, spec)

    # --- commands -----------------------------------------------------------------------

    def run(self, command: Command):
        handler = self._HANDLERS.get(type(command))
        if handler is None:
            raise TypeError(f"not a write command: {command!r}")
        return handler(self, command)

    def _add_roots(self, command: AddRoots) -> list[str]:
        return self._writer.add_roots(list(command.paths))

    def _remove_root(self, command: RemoveRoot) -> int:
        return self._writer.remove_root(command.root)

    def _set_model(self, command: SetModel) -> ModelSpec:
        self._writer.load_model(command.spec, device=command.device, threads=command.threads,
                                backend=command.backend, precision=command.precision,
                                lazy=command.lazy)
        return self._writer.embedder.spec

    def _write_demo(self, command: WriteDemo) -> list[str]:
        from photofind.demo import write_library
        from photofind.demo.variants import add_demo_copies

        problem = self.demo_conflict()
        if problem is not None:
            raise problem
        folder = demo_folder(self.data_dir)
        # with a few copies and look-alikes, for the duplicates view (issue 21)
        add_demo_copies(write_library(folder, command.count, dated=True))
        roots = self._writer.add_roots([str(folder)])
        demo = ModelSpec.demo()
        embedder = self._writer.embedder
        if embedder is None or embedder.spec != demo:
            self._writer.load_model(demo, device=command.device, threads=command.threads,
                                    lazy=True)
        return roots

    def _index(self, command: IndexPaths | Rescan) -> IndexReport:
        if isinstance(command, Rescan):
            roots = [command.root] if command.root else None
            command = IndexPaths(tuple(roots) if roots else None)
        roots = list(command.roots) if command.roots is not None else self.roots()
        if not roots:
            raise PhotofindError("no library folders yet: run 'photofind index FOLDER'")
        return self._writer.index(roots, workers=command.workers,
                                  batch_size=command.batch_size, on_progress=self.on_progress)

    _HANDLERS = {AddRoots: _add_roots, RemoveRoot: _remove_root, SetModel: _set_model,
                 WriteDemo: _write_demo, IndexPaths: _index, Rescan: _index}
