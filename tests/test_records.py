"""The record models and the entity list describe the same records, and config reads the list.

The entity list (`core.entities`, no pydantic) and the models (`core.sync.records`)
are written apart so that start-up never loads pydantic; these checks keep them from
drifting apart.
"""

from __future__ import annotations

from core.config import Settings
from core.entities import BUILTIN_PRIORITIES, ENTITIES, STAGGER_ORDER
from core.sync.records import CHILD_MODELS, MODELS


def test_every_model_has_exactly_its_entitys_columns() -> None:
    assert set(MODELS) == set(ENTITIES)
    for name, spec in ENTITIES.items():
        fields = set(MODELS[name].model_fields)
        child_field = {spec.child.record_field} if spec.child else set()
        assert fields == set(spec.columns) | child_field, name
        if spec.child is not None:
            child = CHILD_MODELS[spec.child.table]
            assert tuple(child.model_fields) == spec.child.columns


def test_column_kinds_follow_the_model_types() -> None:
    kinds: dict[object, str] = {int: "integer", bool: "integer", float: "real", str: "text"}
    for name, spec in ENTITIES.items():
        for field, info in MODELS[name].model_fields.items():
            if field in spec.kinds:
                annotation = info.annotation
                base = next((t for t in kinds if annotation is t), str)  # str | None, Literal
                assert spec.kinds[field] == kinds[base], (name, field)


def test_config_defaults_come_from_the_entity_list() -> None:
    settings = Settings()
    assert STAGGER_ORDER == ["orders", "customers", "products", "prices"]
    assert BUILTIN_PRIORITIES == {"orders": 4, "customers": 3, "products": 2, "prices": 1}
    for name, spec in ENTITIES.items():
        assert settings.default_priority(name) == spec.default_priority
        assert settings.interval_s(name) == spec.default_interval_s
    assert [settings.interval_s(n) / 60 for n in STAGGER_ORDER] == [30, 30, 30, 60]
    assert settings.default_priority("a-plugin") == 1
