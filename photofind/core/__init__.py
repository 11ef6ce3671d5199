"""The engine of photofind. Never imports Qt (tests/test_layering.py enforces it)."""
