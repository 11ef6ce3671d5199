"""Running a short blocking job (a catalog query, a `stat` of a folder) off the GUI thread
and getting its result back on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)
_alive: set[_Relay] = set()  # relays waiting for their job; kept alive until it reports


class _Relay(QObject):
    """Lives in the GUI thread; its signals, emitted from a pool thread, are queued here."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, on_done: Callable[[Any], None],
                 on_error: Callable[[BaseException], None] | None) -> None:
        super().__init__()
        self.on_done = on_done
        self.on_error = on_error
        self.done.connect(self._deliver_done)
        self.failed.connect(self._deliver_error)

    @Slot(object)
    def _deliver_done(self, result: Any) -> None:
        _alive.discard(self)
        self.on_done(result)

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        _alive.discard(self)
        if self.on_error is None:
            raise exc
        self.on_error(exc)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported on the GUI thread
            log.debug("background job failed", exc_info=True)
            self.relay.failed.emit(exc)
        else:
            self.relay.done.emit(result)


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[BaseException], None] | None = None,
                      pool: QThreadPool | None = None) -> None:
    """Run `fn()` on a pool thread; call `on_done(result)` or `on_error(exc)` on the GUI
    thread (an error with no `on_error` goes to the unexpected-error dialog)."""
    relay = _Relay(on_done, on_error)
    _alive.add(relay)
    (pool or QThreadPool.globalInstance()).start(_Job(fn, relay))
