"""State in Google Cloud Storage: ``<prefix>/<project>/<env>/<region>.json`` and ``.lock`` objects.

Every change is conditional on the object's generation, so GCS itself decides
races: a lock is created only if absent (``if_generation_match=0``); state is
replaced only if it is still the generation this store read; force-unlock and
release delete only the lock generation they mean. google-cloud-storage is
imported when the store is first used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from mlopsctl.config.target import Target
from mlopsctl.state import State, StateError, dump_state, parse_state
from mlopsctl.state.locks import check_id, dump_lock, new_lock, parse_lock
from mlopsctl.state.store import LockHeldError, LockInfo, StateStoreError

_ATTEMPTS = 3
"""Tries to take a lock that is released in between, or to read an object that is replaced."""
NO_CREDENTIALS = (
    "no Google Cloud credentials for the state bucket: set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service account key file, or run 'gcloud auth application-default login' "
    "(on GKE or Cloud Build, Workload Identity or the build's service account provides them)"
)


class GcsStateStore:
    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client
        self._generations: dict[str, int] = {}
        """Per state object, the generation last read or written (0: absent)."""

    def __str__(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}".rstrip("/")

    def object_name(self, project: str, target: Target, suffix: str) -> str:
        return "/".join(filter(None, (self.prefix, project, target.env, f"{target.region}{suffix}")))

    def targets(self, project: str) -> Iterator[Target]:
        base = "/".join(filter(None, (self.prefix, project))) + "/"
        with self._errors():
            names = sorted(b.name for b in self._storage().list_blobs(self.bucket, prefix=base))
        for name in names:
            env, _, region = name.removeprefix(base).partition("/")
            if region.endswith(".json") and "/" not in region:
                yield Target(env, region.removesuffix(".json"))

    def read(self, project: str, target: Target) -> State | None:
        name = self.object_name(project, target, ".json")
        found = self._download(name)
        self._generations[name] = found[1] if found else 0
        if found is None:
            return None
        try:
            state = parse_state(found[0])
        except StateError as exc:
            raise StateStoreError(f"cannot read the state in {self}/{name}: {exc}") from None
        if (state.project, state.target) != (project, target):
            raise StateStoreError(f"{self}/{name} holds the state of {state.project} {state.target}")
        return state

    def write(self, state: State) -> None:
        """Replace the state if nobody wrote it since this store read it (or, unread, since now)."""
        from google.api_core.exceptions import PreconditionFailed

        name = self.object_name(state.project, state.target, ".json")
        expected = self._generation(name)
        with self._errors():
            blob = self._bucket().blob(name)
            try:
                blob.upload_from_string(
                    dump_state(state), content_type="application/json", if_generation_match=expected
                )
            except PreconditionFailed:
                raise self._changed(state.target, "written") from None
        self._generations[name] = blob.generation

    def delete(self, project: str, target: Target) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        name = self.object_name(project, target, ".json")
        expected = self._generation(name)
        if expected == 0:
            return
        with self._errors():
            try:
                self._bucket().blob(name).delete(if_generation_match=expected)
            except NotFound:
                pass
            except PreconditionFailed:
                raise self._changed(target, "deleted") from None
        self._generations[name] = 0

    @contextlib.contextmanager
    def lock(self, project: str, target: Target, operation: str) -> Iterator[LockInfo]:
        name = self.object_name(project, target, ".lock")
        info = new_lock(operation)
        generation = self._take(name, info, target)
        try:
            yield info
        finally:
            self._release(name, generation)

    def force_unlock(self, project: str, target: Target, lock_id: str) -> LockInfo:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        name = self.object_name(project, target, ".lock")
        found = self._read_lock(name)
        if found is None:
            raise StateStoreError(f"the state of {target} in {self} is not locked; nothing to unlock")
        holder, generation = found
        check_id(holder, lock_id, f"the state of {target} in {self}")
        with self._errors():
            try:
                self._bucket().blob(name).delete(if_generation_match=generation)
            except (NotFound, PreconditionFailed):
                raise StateStoreError(
                    f"the lock of {target} changed while unlocking it; nothing was unlocked: run again"
                ) from None
        return holder

    def _take(self, name: str, info: LockInfo, target: Target) -> int:
        """Create the lock object if absent; its generation."""
        from google.api_core.exceptions import PreconditionFailed

        for _ in range(_ATTEMPTS):
            with self._errors():
                blob = self._bucket().blob(name)
                try:
                    blob.upload_from_string(
                        dump_lock(info), content_type="application/json", if_generation_match=0
                    )
                    return int(blob.generation)
                except PreconditionFailed:
                    pass
            found = self._read_lock(name)
            if found is not None:
                raise LockHeldError(target, found[0])
        raise StateStoreError(f"the lock of {target} in {self} is taken and released repeatedly; try again")

    def _release(self, name: str, generation: int) -> None:
        """Delete our lock; if force-unlock removed it (and another apply took it), leave it."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        with self._errors(), contextlib.suppress(NotFound, PreconditionFailed):
            self._bucket().blob(name).delete(if_generation_match=generation)

    def _read_lock(self, name: str) -> tuple[LockInfo, int] | None:
        found = self._download(name)
        return None if found is None else (parse_lock(found[0], f"{self}/{name}"), found[1])

    def _download(self, name: str) -> tuple[str, int] | None:
        """The text and generation of an object, or None if it does not exist."""
        from google.api_core.exceptions import NotFound, PreconditionFailed

        for _ in range(_ATTEMPTS):
            with self._errors():
                blob = self._bucket().get_blob(name)
                if blob is None:
                    return None
                try:
                    data = blob.download_as_bytes(if_generation_match=blob.generation)
                except (NotFound, PreconditionFailed):  # replaced or deleted since found: again
                    continue
            try:
                return data.decode("utf-8"), int(blob.generation)
            except UnicodeDecodeError:
                raise StateStoreError(f"{self}/{name} is not UTF-8 text") from None
        raise StateStoreError(f"{self}/{name} changes too often to be read; try again")

    def _generation(self, name: str) -> int:
        if name not in self._generations:
            found = self._download(name)
            self._generations[name] = found[1] if found else 0
        return self._generations[name]

    def _changed(self, target: Target, verb: str) -> StateStoreError:
        return StateStoreError(
            f"the state of {target} in {self} changed since it was read (another apply wrote it); "
            f"it was not {verb}: plan and apply again"
        )

    def _storage(self) -> Any:
        if self._client is None:
            self._client = default_client()
        return self._client

    def _bucket(self) -> Any:
        return self._storage().bucket(self.bucket)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn failures of the storage API (denied, no bucket, unreachable) into a clear error."""
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError

        try:
            yield
        except GoogleAuthError as exc:
            raise StateStoreError(f"{self}: cannot authenticate to Google Cloud Storage: {exc}") from None
        except GoogleAPIError as exc:
            raise StateStoreError(f"{self}: {exc}") from None


def default_client() -> Any:
    """A storage client with the Application Default Credentials."""
    import google.cloud.storage as storage
    from google.auth.exceptions import DefaultCredentialsError

    try:
        return storage.Client()
    except DefaultCredentialsError as exc:
        named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if named:  # the variable is set, so the advice to set it would not help: say what is wrong
            raise StateStoreError(
                f"the credentials in GOOGLE_APPLICATION_CREDENTIALS ({named}) cannot be used for the "
                f"state bucket: {exc}"
            ) from None
        raise StateStoreError(NO_CREDENTIALS) from None
