"""The providers' clients: the regional host or the override, and failures as one line."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from vertex_fake import FakeVertex

from mlopsctl.pulumi.vertex.client import ENDPOINT_ENV, VertexError, api_endpoint, calling, client, wait

MODEL = "projects/acme/locations/europe-west4/models/fraud"


def test_the_host_is_the_regions_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    assert api_endpoint("europe-west4") == "europe-west4-aiplatform.googleapis.com"
    monkeypatch.setenv(ENDPOINT_ENV, "http://127.0.0.1:9")
    assert api_endpoint("europe-west4") == "http://127.0.0.1:9"


def test_a_local_override_is_called_over_http_without_credentials(fake: FakeVertex) -> None:
    service = client(aiplatform_v1.ModelServiceClient, "europe-west4")
    assert isinstance(service._transport._credentials, AnonymousCredentials)
    with pytest.raises(exceptions.NotFound):
        service.get_model(name=MODEL)
    assert fake.calls[0].raw == "/v1/projects/acme/locations/europe-west4/models/fraud"


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("NOT_FOUND", "Model fraud not found", "get model: 404 NOT_FOUND: Model fraud not found"),
        ("INVALID_ARGUMENT", "Bad alias", "get model: 400 INVALID_ARGUMENT: Bad alias"),
        ("ALREADY_EXISTS", "exists", "get model: 409 ALREADY_EXISTS: exists"),
    ],
)
def test_a_failed_call_becomes_one_line_naming_what_was_done(
    fake: FakeVertex, status: str, message: str, expected: str
) -> None:
    fake.fail("get_model", status, message)
    service = client(aiplatform_v1.ModelServiceClient, "europe-west4")
    with pytest.raises(VertexError) as caught, calling("get model"):
        service.get_model(name=f"{MODEL}@1")
    assert str(caught.value) == expected


def _upload(fake: FakeVertex) -> object:
    service = client(aiplatform_v1.ModelServiceClient, "europe-west4")
    model = aiplatform_v1.Model(display_name="fraud", artifact_uri="gs://b/m/")
    request = aiplatform_v1.UploadModelRequest(
        parent=MODEL.rsplit("/models/", 1)[0], model_id="fraud", model=model
    )
    return service.upload_model(request=request)


def test_an_operation_is_polled_under_ui_until_done(fake: FakeVertex) -> None:
    fake.pending_polls = 1
    result = wait(_upload(fake), "upload")
    assert result.model_version_id == "1"
    polls = [c.raw for c in fake.calls if c.route == "get_operation"]
    assert len(polls) == 2  # one 'not done', then done
    assert all(p.startswith("/ui/projects/") and "/models/fraud/operations/" in p for p in polls)


def test_an_operation_not_done_in_time_is_named(fake: FakeVertex) -> None:
    fake.pending_polls = 100
    with pytest.raises(
        VertexError, match=r"^upload: not done after 0s \(operation projects/.*/operations/\d+\)$"
    ):
        wait(_upload(fake), "upload", timeout=0.2)
