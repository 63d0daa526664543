"""`[sources.NAME]` and `[entities.NAME]`: every mistake is named at start, one line each,
exit 2, and nothing stored is touched; the built-in four stay unless `builtin = false`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK

from core.config import ConfigError, load_settings
from core.entities import ENTITIES, STAGGER_ORDER, SYNC_KEY
from core.runtime import entity_names
from core.runtime.entities import entity_specs
from core.schedule.plan import service_offset_s, stagger_order
from core.schedule.stagger import smallest_gap

ERP = """\
[sources.erp]
kind = "sql"
url = "postgresql://erp@127.0.0.1/erp"
timezone = "Europe/Rome"

[entities.partners]
source = "erp"
table = "res_partner"
key = "id"
cursor = "write_date"
lookback_s = 60
columns = { id = "integer", name = "text", credit_limit = "decimal", write_date = "timestamp" }
map = { name = "lower(name)" }

[entities.sale_orders]
source = "erp"
query = "SELECT * FROM sale_order WHERE state <> 'draft'"
key = ["company_id", "code"]
cursor = "write_date"
columns = { company_id = "integer", code = "text", total = "decimal", write_date = "timestamp" }

[entities.invoices]
source = "erp"
table = "account_move"
key = "id"
cursor = "write_date"
columns = { id = "integer", write_date = "timestamp" }

[entities.invoices.child]
name = "invoice_lines"
table = "account_move_line"
parent = "move_id"
key = ["move_id", "sequence"]
columns = { move_id = "integer", sequence = "integer", qty = "decimal" }
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, text), tmp_path / "data")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("invalid configuration")
    return [line.strip() for line in lines[1:]]


def test_configured_entities_sit_beside_the_built_in_ones(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, ERP), tmp_path / "data")
    specs = entity_specs(settings)
    assert list(specs) == [*ENTITIES, "partners", "sale_orders", "invoices"]
    partners = specs["partners"]
    assert partners.columns == (SYNC_KEY, "id", "name", "credit_limit", "write_date")
    assert partners.key == SYNC_KEY and partners.key_columns == ("id",)
    assert partners.zone == "Europe/Rome" and partners.lookback_s == 60
    assert specs["sale_orders"].key_columns == ("company_id", "code")
    child = specs["invoices"].child
    assert child is not None and child.table == "invoice_lines"
    assert child.key_columns == ("move_id", "sequence")


def test_builtin_false_keeps_only_the_operators_entities(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, "[entities]\nbuiltin = false\n" + ERP))
    assert sorted(entity_specs(settings)) == ["invoices", "partners", "sale_orders"]
    assert sorted(entity_names(settings)) == ["invoices", "partners", "sale_orders"]


def test_a_changed_mapping_changes_the_mapping_version_and_a_lookback_does_not(
    tmp_path: Path,
) -> None:
    before = entity_specs(load_settings(_write(tmp_path, ERP)))["partners"].mapping_version
    more_back = ERP.replace("lookback_s = 60", "lookback_s = 600")
    same = entity_specs(load_settings(_write(tmp_path, more_back)))["partners"].mapping_version
    remapped = ERP.replace('map = { name = "lower(name)" }', 'map = { name = "upper(name)" }')
    after = entity_specs(load_settings(_write(tmp_path, remapped)))["partners"].mapping_version
    assert before == same != after and before > 0 and after > 0


def test_twelve_services_are_spread_as_the_four_are(tmp_path: Path) -> None:
    extra = "".join(
        f'\n[entities.e{i}]\nsource = "erp"\ntable = "t{i}"\nkey = "id"\ncursor = "at"\n'
        'columns = { id = "integer", at = "timestamp" }\n'
        for i in range(8)
    )
    settings = load_settings(_write(tmp_path, ERP.split("[entities.partners]")[0] + extra))
    names = stagger_order(settings)
    assert len(names) == 12 and names[:4] == STAGGER_ORDER
    intervals = [settings.interval_s(n) for n in names]
    offsets = [service_offset_s(settings, n) for n in names]
    assert len(set(offsets)) == 12
    assert smallest_gap(intervals, offsets) > 0  # no two services ever fire together


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('source = "erp"\ntable = "res_partner"', 'table = "res_partner"'),
            "entities.partners.source: missing",
        ),
        (
            ('source = "erp"\ntable = "res_partner"', 'source = "crm"\ntable = "res_partner"'),
            "entities.partners.source: no source 'crm' (declared: erp)",
        ),
        (('key = "id"', 'key = "ident"'), "entities.partners.key: 'ident' is not among"),
        (
            ('cursor = "write_date"\nlookback', 'cursor = "changed"\nlookback'),
            "entities.partners.cursor: 'changed' is not among the columns",
        ),
        (("[entities.partners]", "[entities.Partners]"), "entities.Partners: not a valid SQL"),
        (
            ("[entities.partners]", "[entities.sync_state]"),
            "entities.sync_state: 'sync_state' is one of syncdeck's own tables",
        ),
        (
            ("[entities.partners]", "[entities.orders]"),
            "entities.orders: 'orders' is already a replica table",
        ),
        (
            ('credit_limit = "decimal"', 'credit_limit = "money"'),
            "entities.partners.columns.credit_limit: Invalid enum value 'money'",
        ),
        (
            ('table = "res_partner"', 'table = "res_partner"\nquery = "SELECT 1"'),
            "entities.partners: give exactly one of table and query",
        ),
        (('table = "res_partner"', ""), "entities.partners: give exactly one of table and query"),
        (('kind = "sql"', 'kind = "odbc"'), "sources.erp.kind: Invalid enum value 'odbc'"),
    ],
)
def test_every_mistake_is_one_line_naming_its_key(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in ERP
    found = problems(tmp_path, ERP.replace(old, new, 1))
    assert any(line.startswith(expected) for line in found), found


def test_several_mistakes_are_named_in_one_pass(tmp_path: Path) -> None:
    broken = (
        ERP.replace('key = "id"', 'key = "ident"', 1)
        .replace("[entities.sale_orders]", "[entities.quarantine]")
        .replace('name = "invoice_lines"', 'name = "orders"')
    )
    found = problems(tmp_path, broken)
    assert len(found) == 3, found


def test_the_command_line_says_it_in_one_line_per_problem_and_exit_2(
    tmp_path: Path, cli_env: dict[str, str], data_dir: Path
) -> None:
    config = _write(tmp_path, ERP.replace('key = "id"', 'key = "ident"', 1))
    result = subprocess.run(
        [*SYNCDECK, "--config", str(config), "status"],
        env=cli_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "entities.partners.key: 'ident' is not among the columns" in result.stderr
    assert list(data_dir.iterdir()) == []  # nothing was created, let alone touched


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncdeck.toml"
    path.write_text(text, encoding="utf-8")
    return path
