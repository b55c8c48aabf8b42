"""Adopting what Vertex AI makes by itself: the region's metadata store ``default``.

Vertex AI creates the store ``default`` of a region the first time Pipelines or Experiments are used
there, so on a project that used them the store the graph creates (``tracking.experiments``) exists
already, and creating it fails with ``409 ALREADY_EXISTS``. Before the pulumi target plans, each such
store is looked up, read-only, with google-cloud-aiplatform's ``MetadataServiceClient`` (the regional
endpoint, as the Vertex providers call it: ``mlopsctl.pulumi.vertex.client``). A store that exists
becomes a :class:`~mlopsctl.plan.Existing` resource: the plan imports it when the stack's state does
not hold it yet, and the program registers it with ``import_``, so that ``pulumi up`` adopts it with
its experiments and lineage.

A store cannot be changed, so one whose encryption (``security.defaultKmsKey``) or description
differs from the config's cannot be adopted: :meth:`Lookup.refusal` says so, with the ways out. A
store that cannot be looked up (no credentials, no permission) is refused too, with what to set;
an API not enabled yet (``403 SERVICE_DISABLED``; the graph enables it) holds no store yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlopsctl.compiler.vertex_tracking import METADATA_STORE_TYPE
from mlopsctl.graph import JSON, Graph, Resource
from mlopsctl.plan import Existing

ADOPTED = frozenset({METADATA_STORE_TYPE})
"""The types of resource that Vertex AI may have made before the graph creates them."""
TIMEOUT = 60.0
"""Seconds to wait for the lookup of one store."""
_SERVICE_DISABLED = "SERVICE_DISABLED"
_GOOGLE_KEY = "Google-managed encryption"


def store_id(inputs: Mapping[str, JSON]) -> str:
    """The store's resource name, which pulumi-gcp's ``AiMetadataStore`` also imports it by (the first
    of the id forms its Import section lists)."""
    return f"projects/{inputs['project']}/locations/{inputs['region']}/metadataStores/{inputs['name']}"


@dataclass(frozen=True)
class Lookup:
    """What Vertex AI has of one store of the graph: its inputs as found (None: there is none), or why
    it could not be looked up."""

    resource: Resource
    found: dict[str, JSON] | None = None
    problem: str | None = None

    def existing(self) -> Existing | None:
        """The resource marked to be imported, if it exists (and was looked up)."""
        if self.found is None or self.problem is not None:
            return None
        return Existing.of(self.resource, store_id(self.resource.inputs), self.found)

    def refusal(self) -> str | None:
        """Why the store cannot be adopted, with what to do; None when it can be (or does not exist)."""
        if self.problem is not None:
            return self.problem
        return None if self.found is None else mismatch(self.resource, self.found)


def adoptable(graph: Graph) -> tuple[Graph, dict[str, Lookup]]:
    """``graph`` with each store that exists marked :class:`Existing`, and the lookup of each store."""
    lookups = {r.address: look_up(r) for r in graph if r.type in ADOPTED}
    out = Graph(graph.target, graph.gcp_project)
    for r in graph:
        found = lookups[r.address].existing() if r.address in lookups else None
        out.add(found or r)
    return out, lookups


def look_up(resource: Resource) -> Lookup:
    """Read the store ``resource`` describes from Vertex AI (never changing it)."""
    name = store_id(resource.inputs)
    try:
        from google.api_core import exceptions
        from google.auth import exceptions as auth_exceptions
        from google.cloud import aiplatform_v1

        from mlopsctl.pulumi.vertex.client import client, describe
    except ModuleNotFoundError:
        return Lookup(
            resource,
            problem=f"{resource.address}: looking up whether Vertex AI made the metadata store {name} "
            "already needs google-cloud-aiplatform: pip install 'mlopsctl[vertex]' (or 'mlopsctl[all]')",
        )
    region = str(resource.inputs["region"])
    try:
        metadata = client(aiplatform_v1.MetadataServiceClient, region)
        store = metadata.get_metadata_store(name=name, timeout=TIMEOUT)
    except exceptions.NotFound:
        return Lookup(resource)
    except (exceptions.Forbidden, exceptions.PermissionDenied) as error:  # REST's 403, gRPC's
        if error.reason == _SERVICE_DISABLED:  # the graph enables the API: no store can exist yet
            return Lookup(resource)
        how = (
            f"grant the account that applies a role with aiplatform.metadataStores.get on project "
            f"{resource.inputs['project']} (roles/aiplatform.viewer has it)"
        )
        return Lookup(resource, problem=_cannot(resource, describe(error), how))
    except (
        exceptions.Unauthorized,
        exceptions.Unauthenticated,
        auth_exceptions.DefaultCredentialsError,
    ) as error:
        how = "run 'gcloud auth application-default login' or set GOOGLE_APPLICATION_CREDENTIALS"
        return Lookup(resource, problem=_cannot(resource, _first_line(error), how))
    except (exceptions.GoogleAPICallError, exceptions.RetryError, auth_exceptions.GoogleAuthError) as error:
        detail = describe(error) if isinstance(error, exceptions.GoogleAPICallError) else _first_line(error)
        return Lookup(resource, problem=_cannot(resource, detail, "check the project and try again"))
    except OSError as error:  # the endpoint cannot be reached
        return Lookup(resource, problem=_cannot(resource, _first_line(error), "check the network"))
    return Lookup(resource, found=_inputs_of(resource, store))


def _inputs_of(resource: Resource, store: Any) -> dict[str, JSON]:
    """The store's inputs in the graph's terms: what identifies it, and its key and description."""
    found: dict[str, JSON] = {k: resource.inputs[k] for k in ("name", "project", "region")}
    key = store.encryption_spec.kms_key_name
    if key:
        found["encryptionSpec"] = {"kmsKeyName": key}
    if store.description:
        found["description"] = store.description
    return found


def mismatch(resource: Resource, found: Mapping[str, JSON]) -> str | None:
    """Why the existing store cannot be adopted as the config describes it, and the ways out."""
    wanted = resource.inputs
    differ = sorted(k for k in found.keys() | wanted.keys() if found.get(k) != wanted.get(k))
    if not differ:
        return None
    has = ", ".join(_shown(k, found.get(k)) for k in differ)
    asks = ", ".join(_shown(k, wanted.get(k)) for k in differ)
    keep = "turn tracking.experiments off for this environment and region"
    if "encryptionSpec" in differ:
        keep = f"leave the key out (remove security.defaultKmsKey for this environment and region) or {keep}"
    return (
        f"{resource.address}: the Vertex AI metadata store {store_id(resource.inputs)} exists already "
        f"(Vertex AI makes it when Pipelines or Experiments are first used in a region) with {has}, "
        f"but the config (tracking.experiments) asks for {asks}, and a store cannot be changed. "
        f"Either keep the store as it is: {keep}; or delete it, which loses every experiment and "
        f"lineage record of the region (DELETE https://{resource.inputs['region']}-aiplatform."
        f"googleapis.com/v1/{store_id(resource.inputs)}), and apply again to create it as configured"
    )


def _shown(key: str, value: JSON) -> str:
    if key == "encryptionSpec":
        kms = value.get("kmsKeyName") if isinstance(value, dict) else None
        return f"the key {kms} (security.defaultKmsKey)" if kms else _GOOGLE_KEY
    if key == "description":
        return f"the description {value!r}" if value else "no description"
    return f"{key} {value!r}" if value is not None else f"no {key}"


def _cannot(resource: Resource, why: str, how: str) -> str:
    return (
        f"{resource.address}: cannot look up whether Vertex AI made the metadata store "
        f"{store_id(resource.inputs)} already (to adopt it rather than fail creating it): {why}; {how}"
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
