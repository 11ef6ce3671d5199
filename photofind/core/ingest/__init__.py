"""The write path: finding files (scanner, watcher, live roots), decoding them in
decoder processes, the indexer (decide → decode → embed → store), the `Writer` that
holds the lock, and the library worker that owns all of it on one thread. Every write to
the catalog and the vector index goes through here."""
