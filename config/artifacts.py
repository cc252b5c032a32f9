"""Where artifacts live: raw tool outputs, imported reports, screenshots and PDF reports.

Behind Django's storage API (`STORAGES["artifacts"]`), so the web process and workers on other
hosts see the same files: by default a folder (`ARTIFACTS_DIR`, the embedded single-host
setup); with `ARTIFACTS_STORAGE=s3` an S3-compatible bucket (django-storages + boto3; AWS S3,
MinIO, SeaweedFS, Ceph RGW), configured by the `ARTIFACTS_S3_*` variables.

Workers still write into a local work folder under `ARTIFACTS_DIR` (tools need real files);
`artifact_keep` hands a finished file to the storage under its name relative to that folder, and
with a remote storage removes the local copy, so a worker's disk holds only steps in progress.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages


def artifact_storage() -> Storage:
    store = storages["artifacts"]
    if isinstance(store, FileSystemStorage):
        # The folder follows ARTIFACTS_DIR as it is now (tests and commands may move it).
        return FileSystemStorage(location=str(settings.ARTIFACTS_DIR), allow_overwrite=True)
    return store


def artifacts_are_local() -> bool:
    """Whether the storage is the local ARTIFACTS_DIR itself (files are kept where written)."""
    return isinstance(storages["artifacts"], FileSystemStorage)


def artifact_name(path: Path) -> str:
    """The storage name of a file in the local work folder: its path relative to ARTIFACTS_DIR
    (`scan-12/web-attempt1/run-1.stdout`). Raises ValueError for a file outside it."""
    return path.resolve().relative_to(Path(settings.ARTIFACTS_DIR).resolve()).as_posix()


def artifact_keep(path: Path) -> str:
    """Keep a finished local file in the artifact storage; returns its name. With a remote
    storage the file is uploaded (same name, overwriting a half-written earlier upload) and the
    local copy removed."""
    name = artifact_name(path)
    if artifacts_are_local():
        return name
    with path.open("rb") as handle:
        saved = artifact_storage().save(name, File(handle, name=path.name))
    path.unlink(missing_ok=True)
    return saved


def artifact_exists(name: str) -> bool:
    return bool(name) and artifact_storage().exists(name)


def artifact_open(name: str) -> IO[bytes]:
    """The stored file, for reading (streamed from the bucket with S3)."""
    return artifact_storage().open(name, "rb")  # type: ignore[no-any-return]


def _walk(store: Storage, folder: str) -> Iterator[str]:
    try:
        folders, files = store.listdir(folder)
    except FileNotFoundError:
        return
    for file_name in files:
        yield f"{folder}/{file_name}" if folder else file_name
    for sub in folders:
        yield from _walk(store, f"{folder}/{sub}" if folder else sub)


def artifacts_delete(names: list[str], *, folder: str = "") -> int:
    """Delete the named files and everything stored under `folder` (a scan's `scan-12`);
    returns how many files were deleted. Missing files are not an error."""
    store = artifact_storage()
    doomed = {name for name in names if name}
    if folder:
        doomed.update(_walk(store, folder.strip("/")))
    for name in sorted(doomed):
        store.delete(name)
    return len(doomed)
