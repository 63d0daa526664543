"""Syncing entities: the entity list, the record models and codec, the engine, `verify`.

Imports nothing itself: `core.entities` is read on every start, and must not
bring the engine or pydantic with it.
"""
