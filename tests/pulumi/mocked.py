"""Running Pulumi programs under ``pulumi.runtime.set_mocks``, recording what the engine would get."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor


@dataclass(frozen=True)
class Registration:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    dependencies: frozenset[str]
    protect: bool
    provider: str


SERVER_OUTPUTS: Mapping[str, dict[str, Any]] = {
    "gcp:container/cluster:Cluster": {"endpoint": "10.0.0.2", "masterAuth": {"clusterCaCertificate": "Q0E="}},
}
"""What the provider reports of a resource beyond its inputs, where the program reads it."""
FUNCTION_RESULTS: Mapping[str, dict[str, Any]] = {
    "gcp:organizations/getProject:getProject": {"number": "123456789012"},
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": {
        "emailAddress": "service-123456789012@gs-project-accounts.iam.gserviceaccount.com"
    },
    "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount": {
        "email": "bq-123456789012@bigquery-encryption.iam.gserviceaccount.com"
    },
    "gcp:secretmanager/getSecretVersion:getSecretVersion": {"secretData": "not-a-real-secret"},
}
"""What the provider functions the graphs call answer."""


@dataclass
class Recorder(pulumi.runtime.Mocks):
    """Answers every registration with its inputs as its state (plus ``outputs`` by type) and records it."""

    outputs: Mapping[str, dict[str, Any]] = field(default_factory=lambda: dict(SERVER_OUTPUTS))
    results: Mapping[str, dict[str, Any]] = field(default_factory=lambda: dict(FUNCTION_RESULTS))
    """Mocked results of provider functions, by token."""
    resources: list[Registration] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    """What the program exported as stack outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {**args.inputs, **self.outputs.get(args.typ, {})}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append((args.token, dict(args.args)))
        return self.results.get(args.token, {})

    def by_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str) -> Registration:
        (found,) = [r for r in self.resources if (r.type, r.name) == (type_token, name)]
        return found


class _Monitor(MockMonitor):  # type: ignore[misc]
    """Also records what ``MockResourceArgs`` leaves out: dependencies and protection."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorder.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=pulumi.runtime.rpc.deserialize_properties(request.object),
                    dependencies=frozenset(request.dependencies),
                    protect=request.protect,
                    provider=request.provider,
                )
            )
        return response


def run(program: Callable[[], Mapping[str, Any]], recorder: Recorder, stack: str = "dev-us-central1") -> None:
    """Run ``program`` (returning created resources) to completion, every registration recorded."""
    pulumi.runtime.set_mocks(recorder, project="demo", stack=stack, preview=False, monitor=_Monitor(recorder))

    @pulumi.runtime.test  # type: ignore[misc]
    def wait() -> Any:
        return pulumi.Output.all(*[r.urn for r in program().values()])

    wait()
    recorder.exports.update(pulumi.runtime.get_root_resource().outputs)
