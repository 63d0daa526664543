"""Tests every store backend must pass alike (a package, so its conftest has a name of its own)."""
