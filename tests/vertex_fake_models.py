"""The fake Vertex AI's models and their versions, and the endpoints they are deployed to."""

from __future__ import annotations

from typing import Any

from vertex_fake_state import V1_TYPE, ApiError, VertexState, canonical, refuse


class ModelRoutes(VertexState):
    """Models and their versions: upload, aliases, update, delete."""

    def _version(self, model: str, ref: str | None) -> dict[str, Any]:
        versions = self.models.get(model) or refuse("NOT_FOUND", f"Model {model} not found")
        wanted = ref or "default"
        found = versions.get(wanted) or next(
            (v for v in versions.values() if wanted in v["versionAliases"]), None
        )
        return found or refuse("NOT_FOUND", f"Model {model}@{wanted} not found")

    def _take_aliases(self, model: str, version: dict[str, Any], aliases: list[str]) -> None:
        for other in self.models[model].values():
            other["versionAliases"] = [a for a in other["versionAliases"] if a not in aliases]
        version["versionAliases"] = sorted({*version["versionAliases"], *aliases})

    def _upload(self, parent: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "parentModel" in body:
            model = canonical(body["parentModel"])
            self.models.get(model) or refuse("NOT_FOUND", f"Model {model} not found")
        else:
            model = f"{parent}/models/{body['modelId']}"
            if model in self.models:
                raise ApiError("ALREADY_EXISTS", f"Model {model} already exists")
            self.models[model] = {}
        version_id = str(len(self.models[model]) + 1)
        while version_id in self.models[model]:
            version_id = str(int(version_id) + 1)
        version = {**body["model"], "name": model, "versionId": version_id, "versionAliases": []}
        self.models[model][version_id] = version
        aliases = body["model"].get("versionAliases", [])
        self._take_aliases(model, version, [*aliases, *(["default"] if version_id == "1" else [])])
        response = {"@type": f"{V1_TYPE}UploadModelResponse", "model": model, "modelVersionId": version_id}
        return self._operation(model, response)

    def _get_model(self, model: str, ref: str | None, **_: Any) -> dict[str, Any]:
        return self._version(model, ref)

    def _list_versions(self, model: str, **_: Any) -> dict[str, Any]:
        versions = self.models.get(model) or refuse("NOT_FOUND", f"Model {model} not found")
        return {"models": list(versions.values())}

    def _merge_aliases(self, model: str, ref: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        version = self._version(model, ref)
        aliases = body.get("versionAliases", [])
        if "-default" in aliases:
            raise ApiError("INVALID_ARGUMENT", "The default alias cannot be removed")
        removed = {a[1:] for a in aliases if a.startswith("-")}
        version["versionAliases"] = [a for a in version["versionAliases"] if a not in removed]
        self._take_aliases(model, version, [a for a in aliases if not a.startswith("-")])
        return version

    def _update_model(self, model: str, ref: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        version = self._version(model, ref)
        for key in query["updateMask"].split(","):
            version[key] = body.get(key, {} if key == "labels" else "")
        return version

    def _deployed_anywhere(self, model: str, version_id: str | None) -> bool:
        return any(
            d["model"] == model and version_id in (None, d["modelVersionId"])
            for e in self.endpoints.values()
            for d in e["deployedModels"]
        )

    def _delete_version(self, model: str, ref: str, **_: Any) -> dict[str, Any]:
        version = self._version(model, ref)
        if len(self.models[model]) == 1:
            raise ApiError("FAILED_PRECONDITION", "Cannot delete the only version of a model")
        if "default" in version["versionAliases"]:
            raise ApiError("FAILED_PRECONDITION", "Cannot delete the default version of a model")
        if self._deployed_anywhere(model, version["versionId"]):
            raise ApiError("FAILED_PRECONDITION", f"Model version {ref} is deployed")
        del self.models[model][version["versionId"]]
        return self._operation(model)

    def _delete_model(self, model: str, **_: Any) -> dict[str, Any]:
        self.models.get(model) or refuse("NOT_FOUND", f"Model {model} not found")
        if self._deployed_anywhere(model, None):
            raise ApiError("FAILED_PRECONDITION", f"Model {model} has deployed versions")
        del self.models[model]
        return self._operation(model)


class EndpointRoutes(ModelRoutes):
    """Endpoints: deploy and undeploy versions, and split the traffic between them."""

    def add_endpoint(self, project: str, location: str, endpoint_id: str) -> str:
        name = canonical(f"projects/{project}/locations/{location}/endpoints/{endpoint_id}")
        self.endpoints[name] = {"name": name, "deployedModels": [], "trafficSplit": {}}
        return name

    def deployed(self, endpoint: str) -> dict[str, dict[str, Any]]:
        """Display name → deployed model, on ``endpoint``."""
        return {d["displayName"]: d for d in self.endpoints[canonical(endpoint)]["deployedModels"]}

    def _get_endpoint(self, endpoint: str, **_: Any) -> dict[str, Any]:
        return self.endpoints.get(endpoint) or refuse("NOT_FOUND", f"Endpoint {endpoint} not found")

    def _split(self, found: dict[str, Any], split: dict[str, int]) -> None:
        ids = {d["id"] for d in found["deployedModels"]}
        if not set(split) <= ids or (split and sum(split.values()) != 100):
            raise ApiError("INVALID_ARGUMENT", f"Invalid traffic split {split} for {sorted(ids)}")
        found["trafficSplit"] = {k: v for k, v in split.items() if v}

    def _deploy(self, endpoint: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        model, ref = canonical(body["deployedModel"]["model"]).partition("@")[::2]
        version = self._version(model, ref or None)
        given = body["deployedModel"].get("id")
        if given and given in {d["id"] for d in found["deployedModels"]}:
            raise ApiError("ALREADY_EXISTS", f"Deployed model {given} already exists on {endpoint}")
        deployed = {**body["deployedModel"], "id": given or str(next(self._ids)), "model": model}
        deployed["modelVersionId"] = version["versionId"]
        found["deployedModels"].append(deployed)
        if body.get("trafficSplit"):
            self._split(
                found, {deployed["id"] if k == "0" else k: v for k, v in body["trafficSplit"].items()}
            )
        return self._operation(
            endpoint, {"@type": f"{V1_TYPE}DeployModelResponse", "deployedModel": deployed}
        )

    def _undeploy(self, endpoint: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        deployed_id = body["deployedModelId"]
        if deployed_id not in {d["id"] for d in found["deployedModels"]}:
            raise ApiError("NOT_FOUND", f"Deployed model {deployed_id} not found")
        if "trafficSplit" in body:
            self._split(found, body["trafficSplit"])
        if found["trafficSplit"].get(deployed_id):
            raise ApiError("FAILED_PRECONDITION", f"Deployed model {deployed_id} still receives traffic")
        found["deployedModels"] = [d for d in found["deployedModels"] if d["id"] != deployed_id]
        return self._operation(endpoint, {"@type": f"{V1_TYPE}UndeployModelResponse"})

    def _mutate(self, endpoint: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        wanted = body["deployedModel"]
        deployed = next((d for d in found["deployedModels"] if d["id"] == wanted["id"]), None)
        deployed = deployed or refuse("NOT_FOUND", f"Deployed model {wanted['id']} not found")
        for path in body["updateMask"].split(","):
            group, key = path.split(".")
            deployed[group][key] = wanted[group][key]
        return self._operation(
            endpoint, {"@type": f"{V1_TYPE}MutateDeployedModelResponse", "deployedModel": deployed}
        )

    def _set_split(self, endpoint: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        if query.get("updateMask") != "trafficSplit":
            raise ApiError("INVALID_ARGUMENT", f"unexpected update mask {query.get('updateMask')}")
        self._split(found, body.get("trafficSplit", {}))
        return found
