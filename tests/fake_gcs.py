"""An in-memory stand-in for the part of google.cloud.storage the GCS state store uses.

It keeps GCS's rules: every write makes a new, larger generation; a request
with ``if_generation_match`` fails with PreconditionFailed unless the object's
current generation is that number (0: the object does not exist); reading or
deleting a missing object is NotFound. Several stores sharing one client play
several processes sharing one bucket.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from google.api_core.exceptions import NotFound, PreconditionFailed


@dataclass
class FakeClient:
    objects: dict[tuple[str, str], tuple[bytes, int]] = field(default_factory=dict)
    last_generation: int = 1_700_000_000_000_000

    def bucket(self, bucket_name: str) -> FakeBucket:
        return FakeBucket(self, bucket_name)

    def list_blobs(self, bucket_or_name: str, prefix: str | None = None) -> Iterator[FakeBlob]:
        for (bucket, name), (_, generation) in sorted(self.objects.items()):
            if bucket == bucket_or_name and name.startswith(prefix or ""):
                yield FakeBlob(FakeBucket(self, bucket), name, generation)

    def text(self, bucket: str, name: str) -> str:
        return self.objects[bucket, name][0].decode()


@dataclass
class FakeBucket:
    client: FakeClient
    name: str

    def blob(self, blob_name: str) -> FakeBlob:
        return FakeBlob(self, blob_name)

    def get_blob(self, blob_name: str) -> FakeBlob | None:
        found = self.client.objects.get((self.name, blob_name))
        return None if found is None else FakeBlob(self, blob_name, found[1])


@dataclass
class FakeBlob:
    bucket: FakeBucket
    name: str
    generation: int | None = None

    def upload_from_string(
        self, data: str | bytes, content_type: str = "text/plain", if_generation_match: int | None = None
    ) -> None:
        self._check(if_generation_match, missing_ok=True)
        client = self.bucket.client
        client.last_generation += 1
        content = data.encode() if isinstance(data, str) else data
        client.objects[self.bucket.name, self.name] = (content, client.last_generation)
        self.generation = client.last_generation

    def download_as_bytes(self, if_generation_match: int | None = None) -> bytes:
        return self._check(if_generation_match)[0]

    def delete(self, if_generation_match: int | None = None) -> None:
        self._check(if_generation_match)
        del self.bucket.client.objects[self.bucket.name, self.name]

    def _check(self, if_generation_match: int | None, *, missing_ok: bool = False) -> tuple[bytes, int]:
        """The object's content and generation, if the request's precondition holds."""
        current = self.bucket.client.objects.get((self.bucket.name, self.name), (b"", 0))
        if if_generation_match is not None and if_generation_match != current[1]:
            raise PreconditionFailed(f"{self.name}: generation is {current[1]}, not {if_generation_match}")
        if current[1] == 0 and not missing_ok:
            raise NotFound(f"No such object: {self.bucket.name}/{self.name}")
        return current
