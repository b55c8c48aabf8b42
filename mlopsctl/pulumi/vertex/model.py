"""``mlopsctl:vertex/modelVersion:ModelVersion``: one uploaded version of a Vertex AI registered model.

Create uploads the artifact and its serving container: as the model's first version when the
model does not exist yet, otherwise as a new version of it (``parent_model``). What a version
serves cannot change, so a new artifact or container (its environment included) or customer-managed
key (``kmsKeyName``) is a new version (replace); its aliases,
labels, description and the model's display name change in place. Delete removes the version,
or the whole model when it is the last one; a version already gone is not an error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CreateResult, UpdateResult

from mlopsctl.pulumi.vertex.base import Input, VertexProvider, as_int, is_unknown, listed
from mlopsctl.pulumi.vertex.client import VertexError, calling, client, location_path, missing_ok, wait

_ALIAS = "[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]"
_MODEL_ID = "[a-z0-9_-]{1,63} not starting with a digit or '-'"
_ENV_NAME = "[A-Za-z_][A-Za-z0-9_]*"


def split_version(name: str) -> tuple[str, str]:
    """``projects/p/locations/l/models/m@3`` → (``projects/p/locations/l/models/m``, ``3``)."""
    model, _, version = name.partition("@")
    return model, version


class ModelVersionProvider(VertexProvider):
    INPUTS = (
        Input("project", str, required=True, replace=True),
        Input("location", str, required=True, replace=True),
        Input("modelId", str, required=True, replace=True),
        Input("displayName", str, required=True),
        Input("artifactUri", str, required=True, replace=True),
        Input("containerImageUri", str, required=True, replace=True),
        Input("containerPorts", list, default=[8080], replace=True),
        Input("predictRoute", str, default="", replace=True),
        Input("healthRoute", str, default="", replace=True),
        Input("containerEnv", list, default=[], replace=True),
        Input("versionAliases", list, default=[]),
        Input("labels", dict, default={}),
        Input("description", str, default=""),
        Input("kmsKeyName", str, default="", replace=True),
    )
    OUTPUTS: ClassVar[tuple[str, ...]] = ("name", "versionId")

    def normalize(self, spec: dict[str, Any]) -> dict[str, Any]:
        if isinstance(spec["containerPorts"], list):
            spec["containerPorts"] = [as_int(p) for p in spec["containerPorts"]]
        return spec

    def validate(self, spec: dict[str, Any]) -> list[CheckFailure]:
        import re

        failures = []
        model_id = spec["modelId"]
        if not is_unknown(model_id) and not re.fullmatch(r"[a-z_][a-z0-9_-]{0,62}", model_id):
            failures.append(CheckFailure("modelId", f"{model_id!r} is not a model id ({_MODEL_ID})"))
        for alias in listed(spec["versionAliases"]):
            if not is_unknown(alias) and not (isinstance(alias, str) and re.fullmatch(_ALIAS, alias)):
                failures.append(CheckFailure("versionAliases", f"{alias!r} does not match {_ALIAS}"))
        uri = spec["artifactUri"]
        if not is_unknown(uri) and not uri.startswith("gs://"):
            failures.append(CheckFailure("artifactUri", f"expected a gs:// folder, got {uri!r}"))
        ports = [p for p in listed(spec["containerPorts"]) if not is_unknown(p)]
        if not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
            failures.append(CheckFailure("containerPorts", f"expected port numbers, got {ports}"))
        for item in listed(spec["containerEnv"]):
            if not _env_var(item):
                failures.append(
                    CheckFailure("containerEnv", f"expected {{name: {_ENV_NAME}, value}}, got {item!r}")
                )
        return failures

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = self.spec(props)
        model = f"{location_path(spec['project'], spec['location'])}/models/{spec['modelId']}"
        adopted = _registered(spec, model)
        if adopted is None:
            version = _upload(spec, model)
        else:  # a pipeline's push registered these artifacts: this resource manages that version now
            version = adopted
            _sync(spec, f"{model}@{version}", [])
        name = f"{model}@{version}"
        return CreateResult(name, {**spec, "name": name, "versionId": version})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        old, new = self.spec(_olds), self.spec(_news)
        name = _olds["name"]
        _sync(new, name, old["versionAliases"])
        return UpdateResult({**new, "name": name, "versionId": _olds["versionId"]})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        from google.cloud import aiplatform_v1

        name = _props["name"]
        model, version = split_version(name)
        service = client(aiplatform_v1.ModelServiceClient, _props["location"])
        what = f"list the versions of {model}"
        versions = missing_ok(lambda: list(service.list_model_versions(name=model)), what) or []
        if version not in {v.version_id for v in versions}:
            return
        if len(versions) == 1:
            what = f"delete model {model} (its last version)"
            missing_ok(lambda: wait(service.delete_model(name=model), what), what)
        else:
            what = f"delete model version {name}"
            missing_ok(lambda: wait(service.delete_model_version(name=name), what), what)


def _registered(spec: dict[str, Any], model: str) -> str | None:
    """The id of a version of ``model`` that already serves ``spec``'s artifacts with its container
    (one a pipeline's ``push`` registered), if there is one."""
    from google.cloud import aiplatform_v1

    service = client(aiplatform_v1.ModelServiceClient, spec["location"])
    what = f"list the versions of {model}"
    versions = missing_ok(lambda: list(service.list_model_versions(name=model)), what) or []
    wanted = (spec["artifactUri"].rstrip("/"), spec["containerImageUri"], _env_pairs(spec["containerEnv"]))
    serving = {
        v.version_id: (
            v.artifact_uri.rstrip("/"),
            v.container_spec.image_uri,
            [(e.name, e.value) for e in v.container_spec.env],
        )
        for v in versions
    }
    return next((version for version, what in serving.items() if what == wanted), None)


def _env_var(item: Any) -> bool:
    """Whether ``item`` is a container variable ``{name, value}`` (parts not known yet pass)."""
    import re

    if is_unknown(item):
        return True
    if not isinstance(item, dict) or set(item) != {"name", "value"}:
        return False
    name, value = item["name"], item["value"]
    name_ok = is_unknown(name) or (isinstance(name, str) and re.fullmatch(_ENV_NAME, name) is not None)
    return name_ok and isinstance(value, str)


def _env_pairs(env: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(item["name"], item["value"]) for item in env]


def _upload(spec: dict[str, Any], model: str) -> str:
    """Uploads a version of ``model`` (creating the model if needed); its version id."""
    from google.api_core import exceptions
    from google.cloud import aiplatform_v1

    service = client(aiplatform_v1.ModelServiceClient, spec["location"])
    parent = location_path(spec["project"], spec["location"])
    message = aiplatform_v1.Model(
        display_name=spec["displayName"],
        version_description=spec["description"],
        version_aliases=spec["versionAliases"],
        labels=spec["labels"],
        artifact_uri=spec["artifactUri"],
        container_spec=aiplatform_v1.ModelContainerSpec(
            image_uri=spec["containerImageUri"],
            ports=[aiplatform_v1.Port(container_port=p) for p in spec["containerPorts"]],
            predict_route=spec["predictRoute"],
            health_route=spec["healthRoute"],
            env=[
                aiplatform_v1.EnvVar(name=name, value=value)
                for name, value in _env_pairs(spec["containerEnv"])
            ],
        ),
    )
    if spec["kmsKeyName"]:
        message.encryption_spec = aiplatform_v1.EncryptionSpec(kms_key_name=spec["kmsKeyName"])
    what = f"upload a version of model {model}"
    exists = missing_ok(lambda: service.get_model(name=model), f"get model {model}") is not None
    first = aiplatform_v1.UploadModelRequest(parent=parent, model_id=spec["modelId"], model=message)
    later = aiplatform_v1.UploadModelRequest(parent=parent, parent_model=model, model=message)
    if not exists:
        try:
            with calling(what):
                operation = service.upload_model(request=first)
        except VertexError as error:  # another version made the model first: become a new version of it
            if not isinstance(error.__cause__, exceptions.Conflict):  # ALREADY_EXISTS
                raise
            exists = True
    if exists:
        with calling(what):
            operation = service.upload_model(request=later)
    version: str = wait(operation, what).model_version_id
    return version


def _sync(spec: dict[str, Any], name: str, previous_aliases: list[str]) -> None:
    """Brings version ``name`` to ``spec``'s aliases, labels, description and display name.

    Compared with the server, so a change already made is not made again. Only aliases this
    resource set before are removed: Vertex AI gives version 1 the alias ``default`` itself.
    """
    from google.cloud import aiplatform_v1

    service = client(aiplatform_v1.ModelServiceClient, spec["location"])
    with calling(f"get model version {name}"):
        current = service.get_model(name=name)
    wanted = spec["versionAliases"]
    merge = [a for a in wanted if a not in current.version_aliases]
    merge += [f"-{a}" for a in previous_aliases if a not in wanted and a in current.version_aliases]
    if merge:
        with calling(f"set the aliases of model version {name}"):
            service.merge_version_aliases(name=name, version_aliases=merge)
    fields = {
        "display_name": spec["displayName"],
        "version_description": spec["description"],
        "labels": spec["labels"],
    }
    paths = [path for path, value in fields.items() if _value(current, path) != value]
    if paths:
        changed = aiplatform_v1.Model(name=name, **{p: fields[p] for p in paths})
        request = aiplatform_v1.UpdateModelRequest(model=changed, update_mask={"paths": paths})
        with calling(f"update model version {name}"):
            service.update_model(request=request)


def _value(model: Any, path: str) -> Any:
    value = getattr(model, path)
    return dict(value) if path == "labels" else value
