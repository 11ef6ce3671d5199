"""The indexer's first two stages, find and decide: walk a root or a scope inside it,
compare each file's (size, mtime) with the catalog, and sort it into unchanged, failed
before and unchanged, deferred (still being written), new or changed; photos not found
are gone only where their folder was seen (an unreadable folder or an unmounted drive
keeps its photos). Renames the watcher saw move rows without reading the files.

A mixin of `Indexer` (indexer.py): it uses the indexer's catalog, model id, settle time
and stop flag, and writes only the rows that record what the walk found (failures of
folders, mount points, moved rows) in the indexer's thread.
"""

from __future__ import annotations

import os
import time

from photofind.core.errors import PhotofindError
from photofind.core.ingest import scanner
from photofind.core.ingest.indexreport import IndexReport, Job
from photofind.core.media.filecheck import PERMISSION_DENIED
from photofind.core.store import mounts
from photofind.core.store.catalog import is_within
from photofind.core.store.mounts import root_online


class FindAndDecide:
    def _root_online(self, root: str) -> bool:
        return root_online(root, self.catalog)

    def _online(self, root: str, cache: dict[str, bool]) -> bool:
        if root not in cache:
            cache[root] = self._root_online(root)
        return cache[root]

    def _follow_renames(self, renames: list[tuple[str, str]], roots: list[str],
                        online: dict[str, bool], report: IndexReport) -> None:
        """Move catalog rows along files and folders renamed inside a root, without reading
        the files: each row moves when a file of the same size and mtime is at its new path."""
        with self.catalog.db.atomic():
            for old, new in renames:
                root = next((r for r in roots if is_within(old, r) and is_within(new, r)), None)
                if root is None or not self._online(root, online):
                    continue
                for path, known in self.catalog.known_within(old).items():
                    target = new + path[len(old):]
                    found = next(iter(scanner.walk_scope(target, root)), None) \
                        if is_within(target, new) else None
                    if not isinstance(found, scanner.Found) or found.path != target \
                            or (found.size, found.mtime_ns) != (known.size, known.mtime_ns) \
                            or self.catalog.photo_by_path(target) is not None:
                        continue
                    self.catalog.move_photo(known.id, target, root, found.mtime_ns)
                    report.moved += 1

    def _plan(self, root: str, scope: str, jobs: list[Job], gone: dict[int, tuple[str, str]],
              stale_failures: list[str], report: IndexReport) -> None:
        whole = scope == root
        known = self.catalog.known_under(root) if whole else self.catalog.known_within(scope)
        failures = (self.catalog.failures_under(root) if whole
                    else self.catalog.failures_within(scope))
        seen: set[str] = set()
        problems: list[scanner.Problem] = []
        found_mounts: set[str] = {root} if whole and mounts.is_mount(root) else set()
        now_ns = time.time_ns()
        settle_ns = int(self.settle_s * 1e9) if self.settle_s is not None else None
        try:
            for n, item in enumerate(scanner.walk_scope(scope, root)):
                if n % 1024 == 1023 and self.should_stop():
                    report.stopped = True
                    return
                if isinstance(item, scanner.Mount):
                    found_mounts.add(item.path)
                    continue
                if isinstance(item, scanner.Problem):
                    problems.append(item)
                    seen.add(item.path)
                    continue
                seen.add(item.path)
                k = known.get(item.path)
                if k is not None and k.size == item.size and k.mtime_ns == item.mtime_ns \
                        and k.model == self.model:
                    report.unchanged += 1
                    continue
                failure = failures.get(item.path) if k is None else None
                if failure and failure[0] == item.size and failure[1] == item.mtime_ns \
                        and not _readable_again(item.path, failure[2]):
                    report.failed.append({"path": item.path, "reason": failure[2]})
                    continue
                if settle_ns is not None and abs(now_ns - item.mtime_ns) < settle_ns:
                    report.deferred[item.path] = (item.mtime_ns + settle_ns) / 1e9
                    continue  # modified moments ago: perhaps still being written
                if k is not None:
                    jobs.append(Job("changed", item.path, root, item.size, item.mtime_ns, k.id))
                else:
                    jobs.append(Job("new", item.path, root, item.size, item.mtime_ns))
        except OSError as exc:
            raise PhotofindError(
                f"could not read library folder {root}: {exc.strerror or exc}"
            ) from None
        # A folder that could not be read, or a drive unmounted inside the root, is no
        # evidence that its photos were deleted: they are kept, and said so.
        unreachable = [p.path for p in problems if p.folder]
        offline = [m for m in mounts.offline_within(self.catalog, root)
                   if is_within(m, scope) or is_within(scope, m)]
        for mount in offline:
            if mount not in report.missing_roots:
                report.missing_roots.append(mount)
        for path, k in known.items():
            if path in seen:
                continue
            if offline or unreachable:  # (rare: the common case costs nothing more)
                if mounts.under_any(path, offline):
                    continue
                if mounts.under_any(path, unreachable):
                    report.unreachable += 1
                    continue
            gone[k.id] = (path, root)
        stale_failures.extend(p for p in failures if p not in seen
                              and not mounts.under_any(p, unreachable + offline))
        with self.catalog.db.atomic():
            for problem in problems:
                self.catalog.record_failure(problem.path, root, None, None, problem.reason)
            mounts.remember(self.catalog, found_mounts, scope)
        report.failed.extend({"path": p.path, "reason": p.reason} for p in problems)


def _readable_again(path: str, reason: str) -> bool:
    """A file that failed for its permissions is retried once they allow reading it: a
    chmod changes neither its size nor its mtime."""
    return reason.startswith(PERMISSION_DENIED) and os.access(path, os.R_OK)
