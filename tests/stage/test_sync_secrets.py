"""``sync-secrets`` against fake Secret Manager (REST) and Kubernetes API servers on 127.0.0.1,
through the real google-cloud-secret-manager and kubernetes clients."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from fake_kfp_api import serve_json

from mlopsctl_stage.cli import main

REFERENCE = "projects/acme/secrets/db-password/versions/3"


@dataclass
class Fakes:
    """What both fake APIs hold and saw."""

    versions: dict[str, bytes] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    applies: list[tuple[str, dict[str, str], str | None, str | None]] = field(default_factory=list)
    """(path, query, content type, authorization) of each PATCH."""
    forbidden: set[str] = field(default_factory=set)

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> tuple[int, Any]:
        if method == "GET" and path.startswith("/v1/") and path.endswith(":access"):
            name = path.removeprefix("/v1/").removesuffix(":access")
            if name not in self.versions:
                return 404, {
                    "error": {
                        "code": 404,
                        "message": f"Secret Version [{name}] not found.",
                        "status": "NOT_FOUND",
                    }
                }
            data = self.versions[name]
            crc = google_crc32c.value(data) + (1 if name in self.corrupt else 0)
            return 200, {
                "name": name,
                "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc)},
            }
        parts = path.strip("/").split("/")
        if method == "PATCH" and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "secrets":
            namespace, name = parts[3], parts[5]
            self.applies.append((path, query, headers.get("Content-Type"), headers.get("Authorization")))
            if name in self.forbidden:
                message = f'secrets "{name}" is forbidden: User cannot patch resource'
                return 403, {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "message": message,
                    "code": 403,
                }
            applied = json.loads(body)
            self.secrets[namespace, name] = applied
            return 200, applied
        return 404, {"message": f"no route {method} {path}"}


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    """One fake server for both APIs; the stage finds it through its emulator variable and a kubeconfig."""
    found = Fakes()
    with serve_json(found.answer) as address:
        url = f"http://{address}"
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": url}}],
                    "users": [{"name": "sync", "user": {"token": "k8s-token"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "sync"}}],
                    "current-context": "fake",
                }
            )
        )
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setenv("SECRET_MANAGER_EMULATOR_HOST", url)
        yield found


def config(*secrets: tuple[str, str, str]) -> str:
    return json.dumps(
        {"namespace": "team", "secrets": [{"name": n, "key": k, "reference": r} for n, k, r in secrets]}
    )


def test_copies_each_version_into_its_secret(fakes: Fakes, capsys: pytest.CaptureFixture[str]) -> None:
    fakes.versions[REFERENCE] = b"s3cr3t\n"
    fakes.versions["projects/acme/secrets/api-key/versions/latest"] = b"\x00binary\xff"
    main(
        [
            "sync-secrets",
            "--config",
            config(
                ("secret-db-password-3", "value", REFERENCE),
                ("secret-api-key-latest", "value", "projects/acme/secrets/api-key/versions/latest"),
            ),
        ]
    )
    db = fakes.secrets["team", "secret-db-password-3"]
    assert db["kind"] == "Secret" and db["type"] == "Opaque"
    assert db["metadata"] == {
        "name": "secret-db-password-3",
        "namespace": "team",
        "labels": {"app.kubernetes.io/managed-by": "mlopsctl"},
    }
    assert base64.b64decode(db["data"]["value"]) == b"s3cr3t\n"
    assert (
        base64.b64decode(fakes.secrets["team", "secret-api-key-latest"]["data"]["value"]) == b"\x00binary\xff"
    )
    for path, query, content_type, authorization in fakes.applies:
        assert path.startswith("/api/v1/namespaces/team/secrets/")
        assert query == {"fieldManager": "mlopsctl-sync-secrets", "force": "true"}
        assert content_type == "application/apply-patch+yaml"
        assert authorization == "Bearer k8s-token"
    out = capsys.readouterr().out
    assert "Secret team/secret-db-password-3 key 'value' <- " + REFERENCE in out
    assert "s3cr3t" not in out


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", f"secret version ({REFERENCE}): Secret Version [{REFERENCE}] not found."),
        ("corrupt", f"secret version ({REFERENCE}): payload corrupted in transit (CRC32C mismatch)"),
        (
            "forbidden",
            'Secret team/secret-db: 403 secrets "secret-db" is forbidden: User cannot patch resource',
        ),
    ],
)
def test_failures_are_one_line(
    fakes: Fakes, capsys: pytest.CaptureFixture[str], setup: str, message: str
) -> None:
    if setup != "missing":
        fakes.versions[REFERENCE] = b"pw"
    if setup == "corrupt":
        fakes.corrupt.add(REFERENCE)
    if setup == "forbidden":
        fakes.forbidden.add("secret-db")
    with pytest.raises(SystemExit) as exit:
        main(["sync-secrets", "--config", config(("secret-db", "value", REFERENCE))])
    assert exit.value.code == 1
    assert capsys.readouterr().err == f"mlopsctl-stage sync-secrets: {message}\n"
    assert fakes.secrets == {}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"secrets": []}, "namespace: missing from --config"),
        ({"namespace": "team", "secrets": {}}, 'secrets: must be a list of {"name", "key", "reference"}'),
        ({"namespace": "team", "secrets": [{"name": "x", "key": "value"}]}, 'secrets[0]: must have "name"'),
    ],
)
def test_bad_config(
    fakes: Fakes, capsys: pytest.CaptureFixture[str], settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(SystemExit):
        main(["sync-secrets", "--config", json.dumps(settings)])
    assert message in capsys.readouterr().err
