"""Implementations of the CLI commands (each imported only when used)."""
