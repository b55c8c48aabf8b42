"""What a target's deploy folder holds, and writing it without leaving half a folder behind.

``<out>/<env>/<region>/`` gets: ``kustomization.yaml``; ``manifests/*.yaml``, one
Kubernetes object per file; ``pipelines/<name>.yaml``, each compiled pipeline as
Kubeflow Pipelines IR (pipeline spec, then platform spec), for Vertex AI or the
KFP client; ``graph.json``, the whole resource graph (addresses, type tokens,
inputs, dependencies) that the Pulumi program reads.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
from collections.abc import Mapping

from mlopsctl.graph import Graph, Resource, Target
from mlopsctl.yamlio import dump_json, dump_yaml

GRAPH_FILE = "graph.json"
KUSTOMIZATION = "kustomization.yaml"
Files = dict[str, str]
"""Relative path → file content."""


def target_dir(target: Target) -> pathlib.PurePosixPath:
    return pathlib.PurePosixPath(target.env, target.region)


def render_target(graph: Graph, project: str) -> Files:
    """Every file of one target's folder, in memory."""
    files: Files = {}
    manifests = []
    for resource in graph.ordered():
        if resource.is_kubernetes:
            path = f"manifests/{resource.inputs['kind'].lower()}-{resource.name}.yaml"
            if path in files:
                raise ValueError(f"two objects render to {path}")
            files[path] = dump_yaml(dict(resource.inputs))
            manifests.append(path)
            if resource.inputs["kind"] == "PipelineVersion":
                spec = resource.inputs["spec"]
                documents = [spec["pipelineSpec"], spec.get("platformSpec")]
                files[f"pipelines/{spec['pipelineName']}.yaml"] = "---\n".join(
                    dump_yaml(d) for d in documents if d
                )
    files[KUSTOMIZATION] = dump_yaml(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": manifests,
        }
    )
    files[GRAPH_FILE] = dump_json(
        {
            "project": project,
            "env": graph.target.env,
            "region": graph.target.region,
            "gcpProject": graph.gcp_project,
            "resources": [graph_entry(r) for r in graph.ordered()],
        }
    )
    return files


def graph_entry(resource: Resource) -> dict[str, object]:
    return {
        "address": resource.address,
        "type": resource.type,
        "name": resource.name,
        "inputs": dict(resource.inputs),
        "dependsOn": list(resource.depends_on),
        "protect": resource.protect,
    }


def write_targets(
    out: pathlib.Path, rendered: Mapping[Target, Files], removed: tuple[Target, ...] = ()
) -> None:
    """Replace each target's folder under ``out`` with its rendered files; delete removed targets' folders.

    Each folder is built beside the old one and swapped in with renames, so a
    reader sees the old or the new folder, never a mix.
    """
    out.mkdir(parents=True, exist_ok=True)
    for target, files in rendered.items():
        final = out / target_dir(target)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.region}.new-", dir=final.parent))
        try:
            staging.chmod(0o755)
            for rel, content in sorted(files.items()):
                path = staging / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
            _swap(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    for target in removed:
        if (out / target_dir(target)).exists():
            shutil.rmtree(out / target_dir(target))
        remove_if_empty(out / target.env)


def remove_if_empty(folder: pathlib.Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _swap(staging: pathlib.Path, final: pathlib.Path) -> None:
    if final.exists():
        old = pathlib.Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / final.name)
        os.replace(staging, final)
        shutil.rmtree(old)
    else:
        os.replace(staging, final)
