"""``mlopsctl:vertex/deployment:Deployment``: the deployed models and traffic split of one endpoint.

The resource owns what is deployed on its endpoint. Create and update both bring the endpoint
to the inputs in an order that never leaves traffic without a model: first deploy what is
new (a new ``key``, or a new model, machine, accelerator, service account or access logging
for a key, which Vertex AI cannot change on a deployed model) and resize what only changed
replica counts; then set the traffic split; last undeploy everything the inputs no longer
name (by then it receives no traffic). A deployed model is found by its display name, which
is its ``key``, so a retried or interrupted apply continues where it stopped. Delete takes
the traffic off and undeploys every model; an endpoint already gone is not an error.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CreateResult, UpdateResult

from mlopsctl.pulumi.vertex.base import Input, VertexProvider, as_int, is_unknown, kind_failure, listed
from mlopsctl.pulumi.vertex.client import (
    DEPLOY_TIMEOUT,
    VertexError,
    calling,
    client,
    location_path,
    missing_ok,
    wait,
)
from mlopsctl.pulumi.vertex.model import split_version

MODEL_INPUTS = (
    Input("key", str, required=True),
    Input("id", str, default=""),
    Input("model", str, required=True),
    Input("machineType", str, default="n1-standard-2"),
    Input("acceleratorType", str, default=""),
    Input("acceleratorCount", int, default=0),
    Input("minReplicaCount", int, default=1),
    Input("maxReplicaCount", int),
    Input("serviceAccount", str, default=""),
    Input("enableAccessLogging", bool, default=False),
)
"""The fields of one entry of ``deployedModels``; ``maxReplicaCount`` defaults to ``minReplicaCount``."""

_REPLICAS = ("minReplicaCount", "maxReplicaCount")


def endpoint_name(spec: dict[str, Any]) -> str:
    """The endpoint's resource name, from its name or its id."""
    endpoint: str = spec["endpoint"]
    parent = location_path(spec["project"], spec["location"])
    return endpoint if "/" in endpoint else f"{parent}/endpoints/{endpoint}"


def _key_of(entry: Any) -> str:
    return str(entry.get("key")) if isinstance(entry, dict) else ""


def _entry(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    found = {f.name: f.default if item.get(f.name) is None else as_int(item[f.name]) for f in MODEL_INPUTS}
    found["maxReplicaCount"] = found["maxReplicaCount"] or found["minReplicaCount"]
    return found | {k: v for k, v in item.items() if k not in found}  # unknown keys, for check to report


class DeploymentProvider(VertexProvider):
    INPUTS = (
        Input("project", str, required=True, replace=True),
        Input("location", str, required=True, replace=True),
        Input("endpoint", str, required=True, replace=True),
        Input("deployedModels", list, default=[]),
        Input("trafficSplit", dict, default={}),
    )
    OUTPUTS: ClassVar[tuple[str, ...]] = ("endpointName", "deployedModelIds")

    def normalize(self, spec: dict[str, Any]) -> dict[str, Any]:
        if isinstance(spec["deployedModels"], list):
            entries = [_entry(item) for item in spec["deployedModels"]]
            spec["deployedModels"] = sorted(entries, key=_key_of)
        if isinstance(spec["trafficSplit"], dict):
            spec["trafficSplit"] = {k: as_int(v) for k, v in spec["trafficSplit"].items()}
        return spec

    def validate(self, spec: dict[str, Any]) -> list[CheckFailure]:
        failures = []
        keys = []
        for index, entry in enumerate(listed(spec["deployedModels"])):
            where = f"deployedModels[{index}]"
            if not isinstance(entry, dict):
                failures += [] if is_unknown(entry) else [CheckFailure(where, "expected a map")]
                continue
            failures += _entry_failures(entry, where)
            keys.append(entry["key"])
        for key in {k for k in keys if keys.count(k) > 1}:
            failures.append(CheckFailure("deployedModels", f"key {key!r} appears more than once"))
        split = spec["trafficSplit"]
        if isinstance(split, dict) and not any(is_unknown(v) for v in [*split, *split.values()]):
            failures += _split_failures(split, keys)
        return failures

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = self.spec(props)
        endpoint, ids = _reconcile(spec)
        return CreateResult(endpoint, {**spec, "endpointName": endpoint, "deployedModelIds": ids})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        spec = self.spec(_news)
        endpoint, ids = _reconcile(spec)
        return UpdateResult({**spec, "endpointName": endpoint, "deployedModelIds": ids})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        from google.cloud import aiplatform_v1

        spec = self.spec(_props)
        endpoint = endpoint_name(spec)
        service = client(aiplatform_v1.EndpointServiceClient, spec["location"])
        current = missing_ok(lambda: service.get_endpoint(name=endpoint), f"get endpoint {endpoint}")
        if current is None:
            return
        if any(current.traffic_split.values()):
            _set_split(service, endpoint, {})
        for deployed in current.deployed_models:
            _undeploy(service, endpoint, deployed)


def _entry_failures(entry: dict[str, Any], where: str) -> list[CheckFailure]:
    from google.cloud import aiplatform_v1

    known = {f.name for f in MODEL_INPUTS}
    failures = [CheckFailure(f"{where}.{k}", "unknown field") for k in entry if k not in known]
    for field in MODEL_INPUTS:
        value = entry.get(field.name)
        if field.required and value in (None, ""):
            failures.append(CheckFailure(f"{where}.{field.name}", "required"))
        elif (why := kind_failure(value, field.kind)) is not None:
            failures.append(CheckFailure(f"{where}.{field.name}", why))
    if failures:
        return failures
    key, model, accelerator = entry["key"], entry["model"], entry["acceleratorType"]
    if not is_unknown(key) and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", key):
        failures.append(CheckFailure(f"{where}.key", f"{key!r}: letters, digits, '_', '.', '-' (≤128)"))
    if entry["id"] and not is_unknown(entry["id"]) and not re.fullmatch(r"[0-9]{1,10}", entry["id"]):
        failures.append(CheckFailure(f"{where}.id", f"{entry['id']!r}: 1 to 10 digits"))
    if not is_unknown(model) and "/models/" not in model:
        failures.append(CheckFailure(f"{where}.model", f"{model!r} is not a model resource name"))
    if accelerator and not is_unknown(accelerator):
        known = aiplatform_v1.AcceleratorType.__members__
        if accelerator not in known or accelerator.endswith("UNSPECIFIED"):
            why = f"{accelerator!r} is not a Vertex AI accelerator"
            failures.append(CheckFailure(f"{where}.acceleratorType", why))
        elif not entry["acceleratorCount"]:
            failures.append(CheckFailure(f"{where}.acceleratorCount", "at least 1 with an acceleratorType"))
    low, high = entry["minReplicaCount"], entry["maxReplicaCount"]
    if not any(is_unknown(v) for v in (low, high)) and not 1 <= low <= high:
        failures.append(CheckFailure(where, f"replicas: expected 1 <= min ({low}) <= max ({high})"))
    return failures


def _split_failures(split: dict[str, Any], keys: list[str]) -> list[CheckFailure]:
    unknown = [k for k in split if k not in keys]
    failures = [CheckFailure(f"trafficSplit.{k}", "not a key of deployedModels") for k in unknown]
    values = [as_int(v) for v in split.values()]
    if not all(isinstance(v, int) and 0 <= v <= 100 for v in values):
        failures.append(CheckFailure("trafficSplit", f"expected whole percentages, got {values}"))
    elif sum(values) not in (0, 100):
        failures.append(CheckFailure("trafficSplit", f"percentages add up to {sum(values)}, not 100"))
    return failures


def _reconcile(spec: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Deploys, then splits, then undeploys (see the module); the server id of each key."""
    from google.cloud import aiplatform_v1

    endpoint = endpoint_name(spec)
    service = client(aiplatform_v1.EndpointServiceClient, spec["location"])
    with calling(f"get endpoint {endpoint} (create it before its deployment)"):
        current = service.get_endpoint(name=endpoint)
    ids: dict[str, str] = {}
    for entry in spec["deployedModels"]:
        found = _found(current.deployed_models, entry, endpoint)
        if found is None:
            ids[entry["key"]] = _deploy(service, endpoint, entry)
            continue
        ids[entry["key"]] = found.id
        resources = found.dedicated_resources
        if (resources.min_replica_count, resources.max_replica_count) != tuple(entry[r] for r in _REPLICAS):
            _resize(service, endpoint, found.id, entry)
    split = {ids[key]: percent for key, percent in spec["trafficSplit"].items() if percent}
    if split != {k: v for k, v in current.traffic_split.items() if v}:
        _set_split(service, endpoint, split)
    for deployed in current.deployed_models:
        if deployed.id not in ids.values():
            _undeploy(service, endpoint, deployed)
    return endpoint, ids


def _found(deployed_models: Any, entry: dict[str, Any], endpoint: str) -> Any:
    """The deployed model of ``entry``: the one of its id, or one of its key that serves it."""
    if not entry["id"]:
        return next(
            (d for d in deployed_models if d.display_name == entry["key"] and _serves(d, entry)), None
        )
    found = next((d for d in deployed_models if d.id == entry["id"]), None)
    if found is not None and not _serves(found, entry):
        raise VertexError(
            f"deployed model {entry['id']} on {endpoint} serves {found.model} as {found.display_name!r}, "
            f"not {entry['model']} as {entry['key']!r}: it was deployed outside mlopsctl; undeploy it and "
            "apply again"
        )
    return found


def _serves(deployed: Any, entry: dict[str, Any]) -> bool:
    """Whether ``deployed`` is what ``entry`` asks for, apart from what can change in place (replicas)."""
    model, version = split_version(entry["model"])
    machine = deployed.dedicated_resources.machine_spec
    accelerator = machine.accelerator_type.name if machine.accelerator_type else ""
    return bool(
        deployed.model.rsplit("/", 1)[-1] == model.rsplit("/", 1)[-1]
        and (not version or deployed.model_version_id == version)
        and machine.machine_type == entry["machineType"]
        and accelerator == entry["acceleratorType"]
        and machine.accelerator_count == entry["acceleratorCount"]
        and (not entry["serviceAccount"] or deployed.service_account == entry["serviceAccount"])
        and deployed.enable_access_logging == entry["enableAccessLogging"]
    )


def _deploy(service: Any, endpoint: str, entry: dict[str, Any]) -> str:
    from google.cloud import aiplatform_v1

    machine: dict[str, Any] = {"machine_type": entry["machineType"]}
    if entry["acceleratorType"]:
        machine["accelerator_type"] = entry["acceleratorType"]
        machine["accelerator_count"] = entry["acceleratorCount"]
    deployed = aiplatform_v1.DeployedModel(
        id=entry["id"],
        model=entry["model"],
        display_name=entry["key"],
        service_account=entry["serviceAccount"],
        enable_access_logging=entry["enableAccessLogging"],
        dedicated_resources=aiplatform_v1.DedicatedResources(
            machine_spec=aiplatform_v1.MachineSpec(**machine),
            min_replica_count=entry["minReplicaCount"],
            max_replica_count=entry["maxReplicaCount"],
        ),
    )
    what = f"deploy {entry['key']!r} ({entry['model']}) to {endpoint}"
    with calling(what):
        operation = service.deploy_model(endpoint=endpoint, deployed_model=deployed)
    deployed_id: str = wait(operation, what, DEPLOY_TIMEOUT).deployed_model.id
    return deployed_id


def _resize(service: Any, endpoint: str, deployed_id: str, entry: dict[str, Any]) -> None:
    from google.cloud import aiplatform_v1

    resources = aiplatform_v1.DedicatedResources(
        min_replica_count=entry["minReplicaCount"], max_replica_count=entry["maxReplicaCount"]
    )
    replicas = ["dedicated_resources.min_replica_count", "dedicated_resources.max_replica_count"]
    request = aiplatform_v1.MutateDeployedModelRequest(
        endpoint=endpoint,
        deployed_model=aiplatform_v1.DeployedModel(id=deployed_id, dedicated_resources=resources),
        update_mask={"paths": replicas},
    )
    what = f"change the replicas of {entry['key']!r} on {endpoint}"
    with calling(what):
        operation = service.mutate_deployed_model(request=request)
    wait(operation, what, DEPLOY_TIMEOUT)


def _set_split(service: Any, endpoint: str, split: dict[str, int]) -> None:
    from google.cloud import aiplatform_v1

    request = aiplatform_v1.UpdateEndpointRequest(
        endpoint=aiplatform_v1.Endpoint(name=endpoint, traffic_split=split),
        update_mask={"paths": ["traffic_split"]},
    )
    with calling(f"set the traffic split of {endpoint} to {split}"):
        service.update_endpoint(request=request)


def _undeploy(service: Any, endpoint: str, deployed: Any) -> None:
    what = f"undeploy {deployed.display_name!r} (deployed model {deployed.id}) from {endpoint}"
    call = service.undeploy_model
    missing_ok(lambda: wait(call(endpoint=endpoint, deployed_model_id=deployed.id), what), what)
