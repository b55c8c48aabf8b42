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
    replace_on_changes: tuple[str, ...] = ()


PROJECT_NUMBER = "123456789012"


AGENT_NAMES = {
    "monitoring": "gcp-sa-monitoring-notification",
    "run": "serverless-robot-prod",
    "container": "container-engine-robot",
}
"""Services whose agent is not ``gcp-sa-<service>``: for ``monitoring.googleapis.com``,
generateServiceIdentity (``gcloud beta services identity create``) makes the notification agent;
Cloud Run's agent is ``serverless-robot-prod`` and GKE's ``container-engine-robot``."""


def _service_agent(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A ``ServiceIdentity``'s service agent, as pulumi-gcp reports it: ``email``, and ``member``
    (``serviceAccount:<email>``)."""
    service = str(inputs["service"]).removesuffix(".googleapis.com")
    agent = AGENT_NAMES.get(service, f"gcp-sa-{service}")
    email = f"service-{PROJECT_NUMBER}@{agent}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}


COMPUTED_OUTPUTS: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "gcp:projects/serviceIdentity:ServiceIdentity": _service_agent,
}
"""What the provider reports of a resource from its inputs, where the program reads it."""
SERVER_OUTPUTS: Mapping[str, dict[str, Any]] = {
    "gcp:container/cluster:Cluster": {"endpoint": "10.0.0.2", "masterAuth": {"clusterCaCertificate": "Q0E="}},
}
"""What the provider reports of a resource beyond its inputs, where the program reads it."""
FUNCTION_RESULTS: Mapping[str, dict[str, Any]] = {
    "gcp:organizations/getProject:getProject": {"number": PROJECT_NUMBER},
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": {
        "emailAddress": f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
    },
    "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount": {
        "email": f"bq-{PROJECT_NUMBER}@bigquery-encryption.iam.gserviceaccount.com"
    },
    "gcp:secretmanager/getSecretVersion:getSecretVersion": {"secretData": "not-a-real-secret"},
}
"""What the provider functions the graphs call answer."""


@dataclass
class Recorder(pulumi.runtime.Mocks):
    """Answers every registration with its inputs as its state (plus ``COMPUTED_OUTPUTS`` and ``outputs``
    by type) and records it."""

    outputs: Mapping[str, dict[str, Any]] = field(default_factory=lambda: dict(SERVER_OUTPUTS))
    results: Mapping[str, dict[str, Any]] = field(default_factory=lambda: dict(FUNCTION_RESULTS))
    """Mocked results of provider functions, by token."""
    resources: list[Registration] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    """What the program exported as stack outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        computed = COMPUTED_OUTPUTS[args.typ](args.inputs) if args.typ in COMPUTED_OUTPUTS else {}
        return f"{args.name}-id", {**args.inputs, **computed, **self.outputs.get(args.typ, {})}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The mocked result of a provider function, and no check failures."""
        self.calls.append((args.token, dict(args.args)))
        return self.results.get(args.token, {}), []

    def by_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str) -> Registration:
        (found,) = [r for r in self.resources if (r.type, r.name) == (type_token, name)]
        return found


class _Monitor(MockMonitor):
    """Also records what ``MockResourceArgs`` leaves out: dependencies, protection, replaceOnChanges."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.recorder.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=_unwrapped(request.object),
                    dependencies=frozenset(request.dependencies),
                    protect=request.protect,
                    provider=request.provider,
                    replace_on_changes=tuple(request.replaceOnChanges),
                )
            )
        return response


def _unwrapped(properties: Any) -> dict[str, Any]:
    """The registered inputs, secrets as their values (pulumi-gcp marks some inputs secret, such as a
    BucketObject's ``content``)."""
    inputs, _ = pulumi.runtime.rpc.deserialize_properties_unwrap_secrets(properties)
    return dict(inputs)


def run(program: Callable[[], Mapping[str, Any]], recorder: Recorder, stack: str = "dev-us-central1") -> None:
    """Run ``program`` (returning created resources) to completion, every registration recorded."""
    pulumi.runtime.set_mocks(recorder, project="demo", stack=stack, preview=False, monitor=_Monitor(recorder))

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def wait() -> Any:
        return pulumi.Output.all(*[r.urn for r in program().values()])

    wait()
    root = pulumi.runtime.get_root_resource()
    assert isinstance(root, pulumi.runtime.stack.Stack)
    recorder.exports.update(root.outputs)
