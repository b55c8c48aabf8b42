"""KServe's built-in ClusterServingRuntimes: what each serves, over which protocols and ports.

Facts from the runtime definitions that KServe installs (``config/runtimes/`` and
its Helm chart): the model formats each runtime lists in ``supportedModelFormats``,
its ``protocolVersions``, and the ports its server listens on. KServe serves ONNX
with Triton (it ships no separate ONNX Runtime server), so ``onnx`` is Triton too.

The ports, as of KServe 0.20: Triton and TensorFlow Serving are started with HTTP on
8080 and gRPC on 9000 (their runtime's ``args``); KServe's Python model servers
default to HTTP 8080 and gRPC 8081; TorchServe's KServe wrapper answers HTTP on 8080
and TorchServe's own gRPC inference API on 7070. These numbers are the gRPC port of
every object of an endpoint and of docs/serving.md and docs/rollouts.md (a test
reads them there).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.config.models.registry import Framework
from mlopsctl.config.models.serving import Endpoint, Runtime

Protocol = str
"""``v1`` or ``v2`` (the Open Inference Protocol)."""


@dataclass(frozen=True)
class ServingRuntime:
    name: str
    """The ClusterServingRuntime's name."""
    formats: frozenset[Framework]
    http: frozenset[Protocol]
    """Protocol versions served over HTTP."""
    grpc: frozenset[Protocol]
    """Protocol versions served over gRPC."""
    http_port: int
    grpc_port: int


_TRITON = ServingRuntime(
    "kserve-tritonserver",
    frozenset({"tensorrt", "onnx", "tensorflow", "pytorch"}),
    frozenset({"v2"}),
    frozenset({"v2"}),
    8080,
    9000,
)


def _python_server(name: str, framework: Framework) -> ServingRuntime:
    """One of KServe's own Python model servers: gRPC only for the Open Inference Protocol, on 8081."""
    return ServingRuntime(
        name, frozenset({framework}), frozenset({"v1", "v2"}), frozenset({"v2"}), 8080, 8081
    )


RUNTIMES: dict[Runtime, ServingRuntime] = {
    "triton": _TRITON,
    "onnx": _TRITON,
    "tensorflow": ServingRuntime(
        "kserve-tensorflow-serving",
        frozenset({"tensorflow"}),
        frozenset({"v1"}),
        frozenset({"v1"}),
        8080,
        9000,
    ),
    "pytorch": ServingRuntime(
        "kserve-torchserve", frozenset({"pytorch"}), frozenset({"v1", "v2"}), frozenset({"v2"}), 8080, 7070
    ),
    "sklearn": _python_server("kserve-sklearnserver", "sklearn"),
    "xgboost": _python_server("kserve-xgbserver", "xgboost"),
    "huggingface": _python_server("kserve-huggingfaceserver", "huggingface"),
}

_DEFAULT: dict[Framework, Runtime] = {
    "tensorrt": "triton",
    "onnx": "triton",
    "tensorflow": "triton",
    "pytorch": "triton",
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "huggingface": "huggingface",
}


def runtime_key(endpoint: Endpoint, framework: Framework) -> Runtime:
    """The endpoint's runtime, or the default for the model's framework."""
    return endpoint.runtime or _DEFAULT[framework]


def protocol_version(endpoint: Endpoint, runtime: Runtime) -> Protocol:
    """The endpoint's protocol version, or v2 for Triton and v1 otherwise."""
    if endpoint.protocol_version:
        return endpoint.protocol_version
    return "v2" if RUNTIMES[runtime] is _TRITON else "v1"
