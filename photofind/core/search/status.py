"""What a library holds, as `photofind status`, `library list` and the desktop app's
status bar show it. A reader: takes no lock, never writes."""

from __future__ import annotations

from photofind.core.model.specs import active_spec
from photofind.core.store import lock as locking
from photofind.core.store.catalog import Catalog
from photofind.core.store.datadir import DataDir
from photofind.core.store.mounts import root_online
from photofind.core.store.vectorindex import read_state


def folders(data_dir: DataDir) -> list[dict]:
    """The library folders: {"path", "photos", "online"} each (online: present, its drive
    mounted where it was, and not a bare mount point while it has photos: mounts.py). A
    reader: takes no lock."""
    catalog = Catalog.open_for_reading(data_dir.catalog)
    if catalog is None:
        return []
    try:
        return [{"path": root, "photos": count, "online": root_online(root, catalog)}
                for root, count in catalog.root_counts().items()]
    finally:
        catalog.close()


def status(data_dir: DataDir, thorough: bool = True) -> dict:
    """What the library holds. `thorough` (the `status` command) counts searchable photos
    by reading every row, which also notices damaged pages (~0.4 s at a million photos);
    the desktop app, asking after every burst of indexing, counts from the index alone."""
    catalog = Catalog.open_for_reading(data_dir.catalog)
    if catalog is None:
        return {"roots": [], "photos": 0, "failed": 0, "model": None, "offline_roots": [],
                "data_dir": str(data_dir.root), "indexing": False}
    try:
        with catalog.db.atomic():  # one snapshot: counts that agree while a writer commits
            return _status(catalog, data_dir, thorough)
    finally:
        catalog.close()


def _status(catalog: Catalog, data_dir: DataDir, thorough: bool) -> dict:
    spec = active_spec(catalog)
    model_id = spec.model_id() if spec else None
    state = read_state(catalog)
    roots = catalog.roots()
    return {
        "roots": roots,
        "photos": catalog.count_photos(),
        "failed": catalog.count_failures(),
        "model": str(spec) if spec else None,
        "offline_roots": [r for r in roots if not root_online(r, catalog)],
        "searchable": (catalog.count_searchable(model_id) if thorough
                       else catalog.count_photos(model_id)) if model_id else 0,
        "index_vectors": state.count if state else 0,
        "data_dir": str(data_dir.root),
        "indexing": locking.is_held(data_dir.lock),
    }
