"""Where the pipeline compiler goes round kfp's public API, because that path is slow.

Each function gives exactly what the public call gives with kfp 2.17 (pinned), and
``tests/compiler/test_kfp_internals.py`` compares the two, so a kfp upgrade that changes
either shows there:

- :func:`load_component` builds a component from its v1 spec as ``load_component_from_text``
  does, without parsing the spec's text twice with PyYAML's pure-Python loader, and once
  per spec;
- :func:`set_container` sets what ``set_cpu_request``, ``set_accelerator_limit``,
  ``set_env_variable``, ... set, without the ``inspect.stack()`` that each of them calls (its
  cost grows with the call stack and the number of loaded modules);
- :func:`compiled` and :func:`manifest_specs` give what ``Compiler.compile(...,
  kubernetes_manifest_format=True)`` writes into the ``spec`` of the Pipeline and PipelineVersion
  objects, without writing them with PyYAML's pure-Python dumper to be read back. (The objects
  themselves are ``templates/kubernetes/pipeline*.yaml.j2``.)
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from mlopsctl.graph import JSON


@dataclass(frozen=True)
class CompiledPipeline:
    """What kfp compiles a pipeline into, every mapping's keys sorted as its YAML has them."""

    pipeline_spec: dict[str, JSON]
    """The IR (``PipelineSpec``)."""
    platform_spec: dict[str, JSON] | None
    """Its Kubernetes platform spec, if any step has platform settings."""
    description: str | None


def load_component(spec: dict[str, JSON]) -> Any:
    """The kfp component of a v1 component ``spec`` (``name``, ``inputs``, ``outputs``,
    ``implementation.container``), as ``load_component_from_text`` loads its JSON text.

    A component is a factory of tasks that kfp never changes, so one is loaded per spec (the
    steps of pipelines compiled for every target share their specs; see ``pipelines.compile_for_target``).
    """
    return _component(json.dumps(spec, sort_keys=True, ensure_ascii=False))


@functools.lru_cache(maxsize=512)
def _component(text: str) -> Any:
    from kfp.dsl import structures, v1_structures, yaml_component

    v1_spec = v1_structures.ComponentSpec.from_dict(json.loads(text))
    return yaml_component.YamlComponent(structures.ComponentSpec.from_v1_component_spec(v1_spec), text)


def set_container(task: Any, resources: dict[str, str], env: dict[str, str] | None = None) -> None:
    """Set the container resources (fields of kfp's ``ResourceSpec``) and variables of ``task``.

    The values must pass kfp's checks (the config's models use its patterns for CPU and memory).
    """
    from kfp.dsl.structures import ResourceSpec

    if resources:
        task.container_spec.resources = ResourceSpec(**resources)
    if env:
        task.container_spec.env = {**(task.container_spec.env or {}), **env}


def compiled(component: Any) -> CompiledPipeline:
    """The specs of the pipeline ``component`` as kfp's compiler writes them."""
    from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]

    platform_spec = json_format.MessageToDict(component.platform_spec)
    return CompiledPipeline(
        _sorted(json_format.MessageToDict(component.pipeline_spec)),
        _sorted(platform_spec) if platform_spec else None,
        component.description or None,
    )


def manifest_specs(pipeline: CompiledPipeline, name: str) -> tuple[dict[str, JSON], dict[str, JSON]]:
    """The ``spec`` of the Pipeline and of the PipelineVersion that kfp's compiler writes for
    ``pipeline`` in its Kubernetes manifest format, both named ``name``."""
    described = {"description": pipeline.description} if pipeline.description else {}
    version: dict[str, JSON] = {
        "displayName": name,
        "pipelineName": name,
        "pipelineSpec": pipeline.pipeline_spec,
        **({"platformSpec": pipeline.platform_spec} if pipeline.platform_spec else {}),
        **described,
    }
    return _sorted({"displayName": name, **described}), {k: version[k] for k in sorted(version)}


def _sorted(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
