"""The fake Vertex AI that the Vertex providers' REST clients reach (fixture `fake`), and what Pulumi
records of a result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.dynamic import CreateResult, UpdateResult
from vertex_fake import FakeVertex, serving

from mlopsctl.pulumi.vertex.client import ENDPOINT_ENV


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    with serving() as found:
        monkeypatch.setenv(ENDPOINT_ENV, found.url)
        yield found


def state(result: CreateResult | UpdateResult) -> dict[str, Any]:
    """What Pulumi records of a create or an update."""
    assert result.outs is not None
    return result.outs
