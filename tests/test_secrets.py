"""Secrets stay out of `ps`: the demo ERP's and the HTTP source's token from a file or the
environment (issue 9, #16). Real processes; argv is read from /proc as `ps` would."""

from __future__ import annotations

import select
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK

TOKEN = "t0p-secret-from-a-file"


def serve(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [*SYNCDECK, "demo-erp", "serve", "--port", "0", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        line = proc.stdout.readline().decode() if ready else ""
        if line.startswith("demo ERP serving on "):
            return proc, line.removeprefix("demo ERP serving on ").strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"demo ERP did not start: {proc.communicate()[1].decode()}")


def argv_of(proc: subprocess.Popen[bytes]) -> str:
    return Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.fixture
def env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    sizes = {f"SYNCDECK_DEMO__SIZES__{k}": "20" for k in ("CUSTOMERS", "PRODUCTS", "PRICES")}
    return {**cli_env, **sizes, "SYNCDECK_DEMO__SIZES__ORDERS": "20"}


def verify(env: dict[str, str], url: str, data_dir: Path, token_file: Path) -> int:
    (data_dir / "syncdeck.toml").write_text(
        f'[source]\nkind = "http"\nurl = "{url}"\ntoken_file = "{token_file}"\n'
    )
    subprocess.run([*SYNCDECK, "resume"], env=env, cwd=REPO, check=True, capture_output=True)
    result = subprocess.run(
        [*SYNCDECK, "verify", "products"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    return result.returncode


@pytest.mark.parametrize("how", ["file", "environment"])
def test_the_token_never_shows_in_argv(
    env: dict[str, str], tmp_path: Path, data_dir: Path, how: str
) -> None:
    secret = tmp_path / "erp.token"
    secret.write_text(TOKEN + "\n")
    secret.chmod(0o600)
    server_env = {**env, "SYNCDECK_DATA_DIR": str(tmp_path / "erp")}
    if how == "file":
        proc, url = serve(server_env, "--token-file", str(secret))
    else:
        proc, url = serve({**server_env, "SYNCDECK_ERP_TOKEN": TOKEN})
    try:
        assert TOKEN not in argv_of(proc)
        client_env = {k: v for k, v in env.items() if k != "SYNCDECK_SOURCE__KIND"}
        # Read and compared (not refused, 3): the replica was never synced, which is exit 1.
        assert verify(client_env, url, data_dir, secret) == 1
        wrong = tmp_path / "wrong.token"
        wrong.write_text("not-the-token\n")
        assert verify(client_env, url, data_dir, wrong) == 3  # refused: nothing compared
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_an_unreadable_token_file_and_both_token_forms_are_config_errors(
    env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    (data_dir / "syncdeck.toml").write_text(
        f'[source]\nkind = "http"\nurl = "http://127.0.0.1:9"\n'
        f'token_file = "{tmp_path / "missing"}"\n'
    )
    env = {k: v for k, v in env.items() if k != "SYNCDECK_SOURCE__KIND"}
    result = subprocess.run(
        [*SYNCDECK, "sync", "orders"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"source.token_file {tmp_path / 'missing'}: No such file" in result.stderr
    both = {**env, "SYNCDECK_SOURCE__TOKEN": "x"}
    result = subprocess.run(
        [*SYNCDECK, "sync", "orders"], env=both, cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2 and "not both" in result.stderr
    assert not (data_dir / "syncdeck.db").exists()
