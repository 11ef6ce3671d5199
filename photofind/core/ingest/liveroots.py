"""The library roots while the background worker runs: which are online, which are watched
(or, where watching is impossible, rescanned periodically), and the drives mounted inside
them. Owned by the worker thread; it tells the worker what to rescan through the shared
`rescan` dict (scope → reason) and what a person should know through `note`.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass

from photofind.core.ingest.watcher import DirtyScopes, Trouble, Watcher, needs_polling
from photofind.core.store import mounts
from photofind.core.store.catalog import Catalog, is_within
from photofind.core.store.mounts import root_online


@dataclass
class RootState:
    online: bool = False
    identity: tuple[int, int] | None = None
    mode: str = "offline"  # "watch", "poll" or "offline"


class LiveRoots:
    def __init__(self, scopes: DirtyScopes, rescan: dict[str, str], *,
                 note: Callable[[str], None], say_once: Callable[[str, str], None],
                 trouble: Trouble, use_watcher: bool, rescan_every_s: float,
                 poll_roots_s: float) -> None:
        self.scopes = scopes
        self.rescan = rescan
        self.note = note
        self.say_once = say_once
        self.trouble = trouble
        self.use_watcher = use_watcher
        self.rescan_every_s = rescan_every_s
        self.poll_roots_s = poll_roots_s
        self.roots: dict[str, RootState] = {}
        self.watcher: Watcher | None = None
        self.mounted: dict[str, bool] = {}  # drives mounted inside online roots: mounted now?

    @property
    def online(self) -> list[str]:
        return [r for r, s in self.roots.items() if s.online]

    def start_watcher(self) -> None:
        if not self.use_watcher:
            return
        watcher = Watcher(self.scopes, self.trouble)
        try:
            watcher.start()
        except OSError as exc:
            self.note(f"cannot watch folders for changes ({exc.strerror or exc}); "
                      f"checking them every {self.rescan_every_s:g} s instead")
            return
        self.watcher = watcher

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def attach(self, root: str) -> None:
        """Watch a root that is present, or fall back to periodic rescans."""
        state = self.roots[root]
        state.mode = "poll"
        if self.watcher is None:
            return
        if needs_polling(root):
            self.say_once(f"network:{root}",
                          f"{root} is a network folder, where changes made elsewhere raise no "
                          f"events; checking it every {self.rescan_every_s:g} s")
            return
        try:
            self.watcher.watch(root)
            state.mode = "watch"
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE):
                why = ("the system's limit on watched folders is reached; raise "
                       "fs.inotify.max_user_watches to watch it")
            else:
                why = exc.strerror or str(exc)
            self.say_once(f"limit:{root}", f"cannot watch {root} for changes ({why}); "
                          f"checking it every {self.rescan_every_s:g} s instead")

    def detach(self, root: str) -> None:
        if self.watcher is not None:
            self.watcher.unwatch(root)
        self.roots[root].mode = "offline"

    def poll(self, catalog: Catalog, startup: bool = False) -> None:
        """Look at every root (and the drives mounted inside them): one that went offline
        is no longer watched; one that came back is watched again and rescanned."""
        for root, state in self.roots.items():
            online = root_online(root, catalog)
            identity = _identity(root) if online else None
            if online and not state.online:
                if not startup:
                    self.note(f"library folder {root} is back; catching up")
                state.online, state.identity = True, identity
                self.attach(root)
                self.rescan[root] = "startup" if startup else "folder back"
            elif not online and (state.online or startup):
                self.note(f"library folder {root} is offline (missing, empty or its drive "
                          f"unmounted); its photos are kept, and it is checked every "
                          f"{self.poll_roots_s:g} s")
                state.online, state.identity = False, None
                self.detach(root)
            elif online and identity != state.identity:  # replugged or replaced in between
                self.note(f"library folder {root} was replaced; catching up")
                state.identity = identity
                self.attach(root)
                self.rescan[root] = "folder back"
            elif online and state.mode == "watch" and not self.watcher.healthy(root):
                self.note(f"the file watcher for {root} stopped; watching it again")
                self.attach(root)
                self.rescan[root] = "rescan"
        self._poll_mounts(catalog)

    def _poll_mounts(self, catalog: Catalog) -> None:
        """Drives mounted inside a root: unmounted, their photos are kept (the indexer
        sees to that); mounted again, the root is watched afresh (the watch on the bare
        folder sees nothing of the drive) and the drive's folder is rescanned."""
        online = self.online
        for mount in sorted(mounts.remembered(catalog)):
            root = next((r for r in online if is_within(mount, r) and mount != r), None)
            if root is None:
                self.mounted.pop(mount, None)
                continue
            now, before = mounts.is_mount(mount), self.mounted.get(mount)
            self.mounted[mount] = now
            if before is None or now == before:
                continue
            self.attach(root)  # the watch follows what is at that folder now
            if now:
                self.note(f"the drive at {mount} is back; catching up")
                self.rescan[mount] = "folder back"
            else:
                self.note(f"the drive at {mount} was unmounted; its photos are kept until it "
                          "is back")

    def handle_trouble(self, trouble: list[tuple[str, str]]) -> None:
        kinds = {kind for kind, _ in trouble}
        if "overflow" in kinds:
            self.say_once("overflow", "too many changes at once for the file watcher (its event "
                          "queue overflowed); rescanning the library so nothing is missed")
        if "error" in kinds:
            self.say_once("watch-error", "the file watcher reported a problem "
                          f"({next(m for k, m in trouble if k == 'error')}); rescanning")
            for root, state in self.roots.items():
                if state.online and state.mode == "watch" and not self.watcher.healthy(root):
                    self.attach(root)
        for root, state in self.roots.items():
            if state.online:
                self.rescan.setdefault(root, "rescan")

    def sync(self, stored: set[str], catalog: Catalog) -> None:
        """Follow the catalog's roots after one was added (perhaps merging others)."""
        for root in [r for r in self.roots if r not in stored]:  # merged into a new root
            self.detach(root)
            del self.roots[root]
        for root in sorted(stored - set(self.roots)):
            state = self.roots[root] = RootState()
            if root_online(root, catalog):
                state.online, state.identity = True, _identity(root)
                self.attach(root)
                self.rescan[root] = "rescan"
            else:
                self.note(f"library folder {root} is offline (missing, empty or its drive "
                          f"unmounted); it is checked every {self.poll_roots_s:g} s")


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
