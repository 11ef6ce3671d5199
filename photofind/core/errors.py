"""Errors that people see. Each message says what happened and what to do next."""


class PhotofindError(Exception):
    """An expected failure: the CLI prints its message on one line, with no traceback."""


class ModelUnavailable(PhotofindError):
    """The model's weights are not on this machine and could not be fetched."""


class WriterBusy(PhotofindError):
    """Another photofind process holds the data directory's writer lock."""


class NotAnImage(PhotofindError):
    """A file could not be read as a supported image."""


class CatalogCorrupt(PhotofindError):
    """The catalog database is damaged; it is kept as it is and never silently replaced."""
