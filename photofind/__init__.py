"""photofind: find photos in your own folders by what they show."""

import os as _os

# numpy's OpenBLAS wakes a thread per core for every matrix product, however small. On two
# busy cores, right after the text tower has run, the good-match judgement's 20 × 264
# product took 4.5 ms (p95 32 ms) instead of 0.26 ms with one thread: photofind's products
# are small or memory-bound, so one thread each (docs/decisions.md). Set before numpy is
# imported: `photofind` and `photofind gui` import this package first.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
