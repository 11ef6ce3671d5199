"""What photofind keeps, and where: the data directory, the writer lock, the SQLite
catalog (schema, migrations, photos, vectors, roots, meta), the usearch vector index and
the drives mounted under the library. Imports no other wing of the core."""
