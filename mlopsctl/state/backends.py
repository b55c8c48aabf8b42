"""State stores (see :mod:`mlopsctl.state.store`): a local folder, or a Google Cloud Storage bucket."""

from __future__ import annotations

import contextlib
import pathlib
import urllib.parse
from collections.abc import Iterable, Iterator

from mlopsctl.config.target import Target
from mlopsctl.state.store import LockInfo, StateStore, StateStoreError

DEFAULT_FOLDER = pathlib.PurePosixPath(".mlopsctl", "state")
"""Where state is kept, beside the config, when no URL is given."""


def store_from_url(url: str | None, config_dir: pathlib.Path) -> StateStore:
    """``gs://bucket/prefix``, ``file:///path`` or a path; None: ``.mlopsctl/state`` beside the config."""
    if url is None:
        return _local(config_dir / DEFAULT_FOLDER)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "gs":
        from mlopsctl.state.gcs import GcsStateStore

        if not parsed.netloc:
            raise StateStoreError(f"{url}: name the bucket, as gs://BUCKET/PREFIX")
        return GcsStateStore(parsed.netloc, parsed.path)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise StateStoreError(f"{url}: a file:// URL names a local path (file:///path)")
        return _local(pathlib.Path(urllib.parse.unquote(parsed.path)))
    if len(parsed.scheme) > 1:  # one letter is a Windows drive
        raise StateStoreError(f"{url}: unsupported state URL; use gs://BUCKET/PREFIX, file:///PATH or a path")
    return _local(pathlib.Path(url))


def _local(folder: pathlib.Path) -> StateStore:
    from mlopsctl.state.local import LocalStateStore

    return LocalStateStore(folder)


def project_of(config: pathlib.Path) -> str:
    """The project named by the config (state is kept per project), without validating the rest."""
    from mlopsctl.config.load import load_file

    document, diagnostics = load_file(config)
    project = document.data.get("project") if document and isinstance(document.data, dict) else None
    name = project.get("name") if isinstance(project, dict) else None
    if not isinstance(name, str):
        found = "; ".join(d.message for d in diagnostics) or "it has no project.name"
        raise StateStoreError(f"cannot read the project name from {config}: {found}")
    return name


@contextlib.contextmanager
def hold_locks(
    store: StateStore, project: str, targets: Iterable[Target], operation: str
) -> Iterator[list[LockInfo]]:
    """Hold the locks of several targets, taken in a fixed order; all are released on exit.

    If one is held, those already taken are released and its :class:`LockHeldError` propagates.
    """
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(store.lock(project, t, operation))
            for t in sorted(set(targets), key=lambda t: (t.env, t.region))
        ]
