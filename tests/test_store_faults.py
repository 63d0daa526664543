"""The SQLite store off the happy path: a file replaced under it, a corrupt file, a full disk.

Real files and a real tmpfs mount (root only; elsewhere the disk-full test skips and says why).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.entities import BUILTIN_PRIORITIES
from core.errors import StoreCorrupt, StoreReplaced, StoreUnwritable
from core.models import RequestSource, SyncMode
from core.store import SQLiteStore


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _open(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    await store.open()
    await store.register_services(dict(BUILTIN_PRIORITIES))
    return store


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_file_deleted_or_replaced_under_the_store_refuses_every_call(
    data_dir: Path, how: str
) -> None:
    path = data_dir / "syncdeck.db"
    store = await _open(path)
    try:
        await store.enqueue("orders", SyncMode.FULL, None, RequestSource.MANUAL)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if how == "replaced":
            other = await _open(data_dir / "other.db")
            await other.close()
            os.replace(data_dir / "other.db", path)
            before = sha256(path)
        with pytest.raises(StoreReplaced, match=str(path)):
            await store.enqueue("prices", SyncMode.FULL, None, RequestSource.MANUAL)
        with pytest.raises(StoreReplaced):
            await store.view()
        if how == "replaced":
            assert sha256(path) == before  # nothing written into the new file
        else:
            assert not path.exists()
    finally:
        await store.close()


async def test_a_corrupt_file_is_refused_with_one_clear_error_and_left_byte_for_byte(
    data_dir: Path,
) -> None:
    path = data_dir / "syncdeck.db"
    path.write_bytes(os.urandom(200_000))
    path.chmod(0o644)
    before = sha256(path)
    with pytest.raises(StoreCorrupt, match="damaged or is not a syncdeck store"):
        await SQLiteStore(path).open()
    assert sha256(path) == before
    assert path.stat().st_mode & 0o777 == 0o644
    assert not Path(f"{path}-wal").exists()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8): the disk-full test cannot run")
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the disk to the last byte. Unbuffered: a buffered file keeps what did not fit
    and fails again when closed, or not, depending on how full the disk was."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
    return filler


async def test_a_full_disk_is_store_unwritable_and_writes_work_again_when_space_returns(
    tiny_disk: Path,
) -> None:
    store = await _open(tiny_disk / "syncdeck.db")
    try:
        await store.enqueue("orders", SyncMode.FULL, None, RequestSource.MANUAL)
        filler = _fill(tiny_disk)
        with pytest.raises(StoreUnwritable, match="store unwritable"):
            for i in range(2000):  # the WAL grows until the disk refuses a page
                await store.append_events([])
                await store.set_schedule("prices", float(60 + i), None, None)
        view = await store.view()  # reads still work
        assert [r.service for r in view.queued] == ["orders"]
        filler.unlink()
        await store.enqueue("prices", SyncMode.FULL, None, RequestSource.MANUAL)
        assert sorted(r.service for r in (await store.view()).queued) == ["orders", "prices"]
    finally:
        await store.close()
