"""``sync-secrets``: copy Secret Manager secret versions into the Kubernetes Secrets pipeline steps read.

Config (``mlopsctl.build.secret_sync``): ``namespace``, and ``secrets``, a list of ``{"name",
"key", "reference"}``: the payload of the secret version ``reference``
(``projects/P/secrets/S/versions/V``) becomes the ``key`` of the Secret ``name``, applied
server-side (field manager ``mlopsctl-sync-secrets``), so each run converges the Secret on the
version's value whoever touched it last. A payload whose CRC32C does not match is refused.

Secret Manager is reached through its REST transport with Application Default Credentials, or
anonymously at ``SECRET_MANAGER_EMULATOR_HOST`` (``http://HOST:PORT``) when that is set.
Kubernetes: the pod's service account in the cluster, else the kubeconfig (``KUBECONFIG``).
Payloads never appear in the output.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlopsctl_stage.errors import StageError

if TYPE_CHECKING:
    from google.cloud.secretmanager import SecretManagerServiceClient
    from kubernetes.client import ApiClient

EMULATOR_ENV = "SECRET_MANAGER_EMULATOR_HOST"
FIELD_MANAGER = "mlopsctl-sync-secrets"
MANAGED_BY = {"app.kubernetes.io/managed-by": "mlopsctl"}


@dataclass(frozen=True)
class SyncedSecret:
    name: str
    key: str
    reference: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No role flags: everything is in ``--config``."""


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    namespace = config.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise StageError("namespace", "missing from --config")
    secrets = _secrets(config.get("secrets"))
    manager = _secret_manager()
    kubernetes = _kubernetes()
    for secret in secrets:
        payload = _access(manager, secret.reference)
        _apply(kubernetes, namespace, secret, payload)
        print(f"Secret {namespace}/{secret.name} key {secret.key!r} <- {secret.reference}", flush=True)


def _secrets(listed: Any) -> list[SyncedSecret]:
    if not isinstance(listed, list):
        raise StageError("secrets", 'must be a list of {"name", "key", "reference"}')
    found = []
    for index, item in enumerate(listed):
        fields = [item.get(k) if isinstance(item, dict) else None for k in ("name", "key", "reference")]
        if not all(isinstance(f, str) and f for f in fields):
            raise StageError(f"secrets[{index}]", 'must have "name", "key" and "reference"')
        found.append(SyncedSecret(*map(str, fields)))
    return found


def _secret_manager() -> SecretManagerServiceClient:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import GoogleAuthError
    from google.cloud.secretmanager import SecretManagerServiceClient

    emulator = os.environ.get(EMULATOR_ENV)
    if emulator:
        return SecretManagerServiceClient(
            transport="rest",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=emulator),
        )
    try:
        return SecretManagerServiceClient(transport="rest")
    except GoogleAuthError as error:
        raise StageError("Secret Manager", f"no usable Google credentials: {error}") from None


def _access(client: SecretManagerServiceClient, reference: str) -> bytes:
    """The payload of the version ``reference``, checked against its CRC32C."""
    import google_crc32c
    from google.api_core.exceptions import GoogleAPIError

    try:
        payload = client.access_secret_version(name=reference).payload
    except GoogleAPIError as error:
        raise StageError(f"secret version ({reference})", _google_message(error)) from None
    data = bytes(payload.data)
    if payload.data_crc32c is not None and google_crc32c.value(data) != payload.data_crc32c:
        raise StageError(f"secret version ({reference})", "payload corrupted in transit (CRC32C mismatch)")
    return data


def _kubernetes() -> ApiClient:
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        try:
            config.load_kube_config(
                config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration
            )
        except (config.ConfigException, OSError) as error:
            raise StageError(
                "Kubernetes", f"no in-cluster account and no usable kubeconfig: {error}"
            ) from None
    return client.ApiClient(configuration)


def _apply(api: ApiClient, namespace: str, secret: SyncedSecret, payload: bytes) -> None:
    """Server-side apply of the Secret holding ``payload`` under ``secret.key``."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret.name, "namespace": namespace, "labels": MANAGED_BY},
        "type": "Opaque",
        "data": {secret.key: base64.b64encode(payload).decode()},
    }
    try:
        # The generated CoreV1Api sends patches as strategic merges; apply goes through call_api.
        api.call_api(
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            "PATCH",
            path_params={"namespace": namespace, "name": secret.name},
            query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
            body=body,
            response_type="V1Secret",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )
    except ApiException as error:
        raise StageError(
            f"Secret {namespace}/{secret.name}", f"{error.status} {_status_message(error)}"
        ) from None
    except HTTPError as error:
        raise StageError(
            f"Secret {namespace}/{secret.name}", f"Kubernetes API unreachable: {error}"
        ) from None


def _google_message(error: Any) -> str:
    """The message of a Google API error answer (without the request line the REST client adds)."""
    try:
        return str(error.response.json()["error"]["message"])
    except (AttributeError, TypeError, ValueError, KeyError):
        return str(getattr(error, "message", None) or error).splitlines()[0]


def _status_message(error: Any) -> str:
    """The message of a Kubernetes ``Status`` answer, else the HTTP reason."""
    try:
        return str(json.loads(error.body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(error.reason)
