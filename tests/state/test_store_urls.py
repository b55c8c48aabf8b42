from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, write

from mlopsctl.state.backends import project_of, store_from_url
from mlopsctl.state.gcs import GcsStateStore
from mlopsctl.state.local import LocalStateStore
from mlopsctl.state.store import StateStoreError

CONFIG_DIR = pathlib.Path("/src/ml")


@pytest.mark.parametrize(
    ("url", "kind", "where"),
    [
        (None, LocalStateStore, "/src/ml/.mlopsctl/state"),
        ("state", LocalStateStore, "state"),
        ("/var/lib/mlops", LocalStateStore, "/var/lib/mlops"),
        ("file:///var/lib/mlops%20state", LocalStateStore, "/var/lib/mlops state"),
        ("file://localhost/var/lib/mlops", LocalStateStore, "/var/lib/mlops"),
        ("C:/mlops/state", LocalStateStore, "C:/mlops/state"),
        ("gs://acme-state", GcsStateStore, "gs://acme-state"),
        ("gs://acme-state/mlops/prod/", GcsStateStore, "gs://acme-state/mlops/prod"),
    ],
)
def test_store_from_url(url: str | None, kind: type, where: str) -> None:
    store = store_from_url(url, CONFIG_DIR)
    assert isinstance(store, kind) and str(store) == where


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("gs:///mlops", "gs:///mlops: name the bucket, as gs://BUCKET/PREFIX"),
        ("file://server/share", "file://server/share: a file:// URL names a local path (file:///path)"),
        ("s3://bucket/state", "s3://bucket/state: unsupported state URL; use gs://BUCKET/PREFIX"),
    ],
)
def test_unsupported_urls(url: str, message: str) -> None:
    with pytest.raises(StateStoreError) as error:
        store_from_url(url, CONFIG_DIR)
    assert str(error.value).startswith(message)


def test_project_of_reads_only_the_project_name(tmp_path: pathlib.Path) -> None:
    assert project_of(write(tmp_path, MINIMAL + "unknownKey: 1\n")) == "demo"
    with pytest.raises(
        StateStoreError, match=r"cannot read the project name from .*: it has no project\.name"
    ):
        project_of(write(tmp_path, "project: {}\n"))
    with pytest.raises(StateStoreError, match="no such file"):
        project_of(tmp_path / "missing.yaml")
