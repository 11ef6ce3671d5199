"""Duplicates and near-duplicates: the pixel fingerprint, the whole-library pass that
groups copies (exact, near, burst), the keeper rule, and stacking copies in results."""
