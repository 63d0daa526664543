"""Configuration: TOML, SYNCDECK_* environment, validation errors, and the CLI's exit code 2."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK

from core.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD_TOML = """\
profile = "demo"

[orchestrator]
heartbeat_s = 5
lease_ttl_s = 20
run_timeout_s = 42

[orchestrator.retry]
tries = 5
backoff_s = [1, 2]

[schedule]
enabled = false

[services.orders]
priority = 7
interval_s = 120

[simulation]
failure_rate = 0.5
"""


def test_defaults_without_a_file(data_dir: Path) -> None:
    s = load_settings(data_dir=data_dir)
    assert s.data_dir == data_dir
    assert s.profile == "default"
    assert s.orchestrator.lease_ttl_s == 10.0
    assert s.orchestrator.retry.tries == 3
    assert s.schedule.enabled is True
    assert s.default_priority("orders") == 4
    assert s.default_priority("prices") == 1


def test_values_from_the_data_dir_toml(data_dir: Path) -> None:
    write(data_dir / "syncdeck.toml", GOOD_TOML)
    s = load_settings(data_dir=data_dir)
    assert s.profile == "demo"
    assert (s.orchestrator.heartbeat_s, s.orchestrator.lease_ttl_s) == (5.0, 20.0)
    assert s.orchestrator.run_timeout_s == 42.0
    assert s.orchestrator.retry.tries == 5
    assert s.orchestrator.retry.backoff_s == [1.0, 2.0]
    assert s.schedule.enabled is False
    assert s.default_priority("orders") == 7
    assert s.interval_s("orders") == 120.0  # configured: not scaled by the demo profile
    assert s.interval_s("customers") == 30.0  # 30 min, demo-scaled to 30 s
    assert s.simulation.failure_rate == 0.5
    # untouched keys keep their defaults
    assert s.orchestrator.cancel_grace_s == 10.0


def test_explicit_config_file_wins_over_the_data_dir_one(data_dir: Path, tmp_path: Path) -> None:
    write(data_dir / "syncdeck.toml", "[orchestrator.retry]\ntries = 9\n")
    other = write(tmp_path / "other.toml", "[orchestrator.retry]\ntries = 2\n")
    assert load_settings(other, data_dir).orchestrator.retry.tries == 2
    assert load_settings(None, data_dir).orchestrator.retry.tries == 9


def test_environment_overrides_toml_key_by_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(data_dir / "syncdeck.toml", GOOD_TOML)
    monkeypatch.setenv("SYNCDECK_ORCHESTRATOR__LEASE_TTL_S", "30")
    monkeypatch.setenv("SYNCDECK_ORCHESTRATOR__RETRY__TRIES", "8")
    monkeypatch.setenv("SYNCDECK_SCHEDULE__ENABLED", "true")
    monkeypatch.setenv("SYNCDECK_SERVICES__PRICES__PRIORITY", "9")
    s = load_settings(data_dir=data_dir)
    assert s.orchestrator.lease_ttl_s == 30.0
    assert s.orchestrator.retry.tries == 8
    assert s.schedule.enabled is True
    assert s.default_priority("prices") == 9
    # siblings the environment did not name still come from the file
    assert s.orchestrator.heartbeat_s == 5.0
    assert s.orchestrator.retry.backoff_s == [1.0, 2.0]
    assert s.default_priority("orders") == 7
    assert s.profile == "demo"


def test_environment_lists_as_json_and_other_programs_variables_left_alone(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCDECK_ORCHESTRATOR__RETRY__BACKOFF_S", "[5, 7.5]")
    monkeypatch.setenv("SYNCDECK_DEMO__FAULTS__TRUNCATE_FULL", "0.5")
    monkeypatch.setenv("SYNCDECK_CRASH_SEED", "42")  # not a setting: somebody else's
    s = load_settings(data_dir=data_dir)
    assert s.orchestrator.retry.backoff_s == [5.0, 7.5]
    assert s.demo.faults.truncate_full == 0.5
    # a typo inside a known table is not ignored: it is named
    monkeypatch.setenv("SYNCDECK_ORCHESTRATOR__LEASE_TTL", "5")
    with pytest.raises(ConfigError, match=r"orchestrator\.lease_ttl: unknown key"):
        load_settings(data_dir=data_dir)


def test_settings_from_plain_values_are_validated(data_dir: Path) -> None:
    s = Settings.from_values(data_dir=str(data_dir), schedule={"enabled": False})
    assert s.data_dir == data_dir and isinstance(s.data_dir, Path)
    assert s.schedule.enabled is False
    with pytest.raises(ConfigError) as info:
        Settings.from_values(data_dir=data_dir, sync={"batch_size": 0}, source={"kind": "ftp"})
    message = str(info.value)
    assert "sync.batch_size: must be greater than or equal to 1" in message
    assert "source.kind: Invalid enum value 'ftp'" in message


def test_explicit_overrides_beat_environment_and_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(data_dir / "syncdeck.toml", 'profile = "demo"\n')
    monkeypatch.setenv("SYNCDECK_PROFILE", "demo")
    assert load_settings(data_dir=data_dir, profile="default").profile == "default"


def test_data_dir_from_the_environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(data_dir / "syncdeck.toml", "[orchestrator.retry]\ntries = 6\n")
    monkeypatch.setenv("SYNCDECK_DATA_DIR", str(data_dir))
    s = load_settings()
    assert s.data_dir == data_dir
    assert s.orchestrator.retry.tries == 6


def test_invalid_values_name_every_key_and_reason(data_dir: Path) -> None:
    toml = write(
        data_dir / "syncdeck.toml",
        "[orchestrator]\nlease_ttl_s = -1\nbogus = 3\n"
        '[schedule]\nenabled = "maybe"\n'
        "[services.orders]\npriority = 500\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=data_dir)
    message = str(info.value)
    assert str(toml) in message
    lines = message.splitlines()
    assert any(
        line.strip().startswith("orchestrator.lease_ttl_s:") and "greater than 0" in line
        for line in lines
    ), message
    assert any(
        line.strip().startswith("orchestrator.bogus:") and "not permitted" in line for line in lines
    ), message
    assert any(line.strip().startswith("schedule.enabled:") for line in lines), message
    assert any(
        line.strip().startswith("services.orders.priority:") and "100" in line for line in lines
    ), message


def test_cross_field_rule_is_reported(data_dir: Path) -> None:
    write(data_dir / "syncdeck.toml", "[orchestrator]\nheartbeat_s = 50\n")
    with pytest.raises(ConfigError, match=r"orchestrator: .*heartbeat_s must be shorter"):
        load_settings(data_dir=data_dir)


def test_stall_s_is_a_duration_longer_than_progress_persist_s(data_dir: Path) -> None:
    assert load_settings(data_dir=data_dir).orchestrator.stall_s == 60.0
    write(data_dir / "syncdeck.toml", "[orchestrator]\nstall_s = 2\n")
    assert load_settings(data_dir=data_dir).orchestrator.stall_s == 2.0
    for bad, said in (("0", "greater than 0"), ("inf", "finite"), ("1e308", "1 day")):
        write(data_dir / "syncdeck.toml", f"[orchestrator]\nstall_s = {bad}\n")
        with pytest.raises(ConfigError, match=rf"orchestrator\.stall_s: .*{said}"):
            load_settings(data_dir=data_dir)
    write(data_dir / "syncdeck.toml", "[orchestrator]\nstall_s = 0.5\n")
    with pytest.raises(ConfigError, match=r"stall_s must be longer than progress_persist_s"):
        load_settings(data_dir=data_dir)


def test_invalid_environment_value_names_the_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCDECK_ORCHESTRATOR__RETRY__TRIES", "abc")
    with pytest.raises(ConfigError, match=r"orchestrator\.retry\.tries: .*integer"):
        load_settings(data_dir=data_dir)
    monkeypatch.setenv("SYNCDECK_ORCHESTRATOR__RETRY__TRIES", "0")
    with pytest.raises(ConfigError, match=r"orchestrator\.retry\.tries: .*greater than or equal"):
        load_settings(data_dir=data_dir)


def test_broken_toml_is_a_config_error(data_dir: Path) -> None:
    toml = write(data_dir / "syncdeck.toml", "[orchestrator\nlease_ttl_s = 5\n")
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=data_dir)
    assert str(toml) in str(info.value)
    assert "not valid TOML" in str(info.value)
    assert "line 1" in str(info.value)
    (data_dir / "syncdeck.toml").write_bytes(b"\xff\xfe[")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(data_dir=data_dir)


def test_missing_explicit_config_file(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(data_dir / "missing.toml", data_dir)


def test_settings_are_frozen(data_dir: Path) -> None:
    s = load_settings(data_dir=data_dir)
    assert isinstance(s, Settings)
    with pytest.raises(AttributeError):
        s.profile = "demo"  # type: ignore[misc]


# -- through the command line ---------------------------------------------------------------


def syncdeck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCDECK, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )


def digest(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.name != "syncdeck.toml"
    }


def test_cli_broken_config_exits_2_naming_the_key_and_loses_nothing(
    cli_env: dict[str, str], data_dir: Path
) -> None:
    env = {**cli_env, "SYNCDECK_SCHEDULE__ENABLED": "false"}
    queued = syncdeck(env, "sync", "orders", "--json")
    assert queued.returncode == 0, queued.stderr
    request_id = json.loads(queued.stdout)["id"]
    before = digest(data_dir)

    write(data_dir / "syncdeck.toml", "[orchestrator]\nlease_ttl_s = -5\n")
    for args in (["status"], ["pause"]):
        bad = syncdeck(env, *args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        assert "orchestrator.lease_ttl_s" in bad.stderr
        assert "greater than 0" in bad.stderr
        assert "Traceback" not in bad.stderr

    write(data_dir / "syncdeck.toml", "[orchestrator\n")
    bad = syncdeck(env, "status")
    assert bad.returncode == 2
    assert "not valid TOML" in bad.stderr and "syncdeck.toml" in bad.stderr

    bad = syncdeck(
        {**env, "SYNCDECK_ORCHESTRATOR__RETRY__TRIES": "0"}, "--config", "/nope", "status"
    )
    assert bad.returncode == 2 and "no such file" in bad.stderr

    (data_dir / "syncdeck.toml").unlink()
    bad = syncdeck({**env, "SYNCDECK_ORCHESTRATOR__RETRY__TRIES": "zero"}, "status")
    assert bad.returncode == 2
    assert "orchestrator.retry.tries" in bad.stderr

    assert digest(data_dir) == before  # none of the refused commands touched the store
    status = syncdeck(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    queue = json.loads(status.stdout)["queue"]
    assert [(q["id"], q["service"], q["state"]) for q in queue] == [
        (request_id, "orders", "queued")
    ]
    assert json.loads(status.stdout)["dispatch_paused"] is False


def test_every_error_together_enums_with_their_choices(data_dir: Path) -> None:
    """The heartbeat-vs-TTL rule is reported beside the table's other errors, not instead."""
    write(
        data_dir / "syncdeck.toml",
        'profile = "prod"\n[orchestrator]\nheartbeat_s = 50\n[orchestrator.retry]\ntries = 0\n'
        '[source]\nkind = "ftp"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=data_dir)
    message = str(info.value)
    assert "orchestrator.retry.tries: must be greater than or equal to 1" in message
    assert "orchestrator: heartbeat_s must be shorter than lease_ttl_s" in message
    assert "source.kind: Invalid enum value 'ftp'; choose one of: demo, http, simulated" in message
    assert "profile: Invalid enum value 'prod'; choose one of: default, demo" in message


def test_malformed_json_in_the_environment_says_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCDECK_ORCHESTRATOR__RETRY__BACKOFF_S", "[1, 2")
    monkeypatch.setenv("SYNCDECK_SOURCE__TOKEN", "[not json, but a token")
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=data_dir)
    message = str(info.value)
    assert (
        "orchestrator.retry.backoff_s: SYNCDECK_ORCHESTRATOR__RETRY__BACKOFF_S is malformed JSON"
        in message
    )
    assert "source.token" not in message  # text that starts with "[" is fine where text goes
    monkeypatch.delenv("SYNCDECK_ORCHESTRATOR__RETRY__BACKOFF_S")
    assert load_settings(data_dir=data_dir).source.token == "[not json, but a token"


def test_cli_a_services_table_naming_no_service_is_an_error(
    cli_env: dict[str, str], data_dir: Path
) -> None:
    env = {**cli_env, "SYNCDECK_SCHEDULE__ENABLED": "false"}
    assert syncdeck(env, "resume").returncode == 0
    before = digest(data_dir)
    write(data_dir / "syncdeck.toml", "[services.order]\ninterval_s = 60\n")
    for args in (["status"], ["sync", "orders"], ["daemon"]):
        bad = syncdeck(env, *args)
        assert bad.returncode == 2, (args, bad.stdout, bad.stderr)
        assert "Traceback" not in bad.stderr
        assert (
            "services.order: no such service; known: customers, orders, prices, products"
            in bad.stderr
        ), bad.stderr
    assert digest(data_dir) == before

    # In one pass beside another mistake, under the file's name.
    write(data_dir / "syncdeck.toml", '[services.ordrs]\n[services.orders]\npriority = "x"\n')
    bad = syncdeck(env, "status")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"file {data_dir / 'syncdeck.toml'}" in bad.stderr, bad.stderr
    assert "services.orders.priority: Expected `int | null`, got `str`" in bad.stderr
    assert "services.ordrs: no such service" in bad.stderr
    assert digest(data_dir) == before


def test_webhook_tables_read_from_toml_with_their_defaults_and_hide_the_url(
    data_dir: Path,
) -> None:
    write(
        data_dir / "syncdeck.toml",
        '[[notify.webhooks]]\nurl = "https://hooks.example/services/T0/B0/s3cret"\n'
        'format = "slack"\n\n[[notify.webhooks]]\nurl_file = "/etc/syncdeck/alerts.url"\n'
        "timeout_s = 2\ntries = 5\n",
    )
    first, second = load_settings(data_dir=data_dir).notify.webhooks
    assert (first.format, first.timeout_s, first.tries) == ("slack", 5.0, 3)
    assert (second.format, second.url_file, second.tries) == (
        "json",
        Path("/etc/syncdeck/alerts.url"),
        5,
    )
    assert "s3cret" not in repr(load_settings(data_dir=data_dir))


def test_every_bad_webhook_table_is_named_by_its_place(data_dir: Path) -> None:
    write(
        data_dir / "syncdeck.toml",
        '[[notify.webhooks]]\nformat = "slack"\n\n'
        '[[notify.webhooks]]\nurl = "https://h/x"\nurl_file = "/u"\n\n'
        '[[notify.webhooks]]\nurl = "https://h/x"\nformat = "xml"\n\n'
        '[[notify.webhooks]]\nurl = "ftp://h/s3cret"\ntries = 0\n',
    )
    with pytest.raises(ConfigError) as info:
        load_settings(data_dir=data_dir)
    lines = str(info.value).splitlines()[1:]
    assert lines == [
        "  notify.webhooks[0]: give exactly one of url and url_file",
        "  notify.webhooks[1]: give exactly one of url and url_file",
        "  notify.webhooks[2].format: Invalid enum value 'xml'; choose one of: json, slack",
        "  notify.webhooks[3].tries: must be greater than or equal to 1",
        "  notify.webhooks[3]: url must be an http:// or https:// URL",
    ]
    assert "s3cret" not in str(info.value)


def test_every_configuration_table_has_its_annotations_evaluated() -> None:
    """A table whose module postpones annotations (`from __future__ import annotations`) has
    them as text, which msgspec compiles and evaluates when the first configuration is
    loaded: most of the cost of loading one, on the way to the console's first frame."""
    import core.config.entities
    import core.config.notify
    import core.config.rest
    import core.config.settings
    import core.config.stores
    from core.config.section import Section

    modules = [core.config.entities, core.config.notify, core.config.rest]
    modules += [core.config.settings, core.config.stores]
    tables = [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Section) and value is not Section
    ]
    assert len(tables) >= 20
    postponed = [
        f"{table.__module__}.{table.__name__}.{name}"
        for table in tables
        for name, annotation in vars(table).get("__annotations__", {}).items()
        if isinstance(annotation, str)
    ]
    assert postponed == []
