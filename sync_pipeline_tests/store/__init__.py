"""Tests of the link store, on real SQLite files."""
