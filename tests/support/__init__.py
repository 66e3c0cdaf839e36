"""Test helpers shared by every folder of tests/ (importable as ``support``: tests/ is on sys.path)."""
