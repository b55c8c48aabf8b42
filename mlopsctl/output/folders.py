"""What a target's deploy folder holds, and writing it without leaving half a folder behind.

``<out>/<env>/<region>/`` gets: ``kustomization.yaml``; ``manifests/*.yaml``, one
Kubernetes object per file, with the Argo CD sync options the folder needs (``SYNC_OPTIONS``);
``platform/<add-on>.yaml``, one Argo CD Application per cluster add-on
(``mlopsctl.output.argocd``); ``pipelines/<name>.yaml``, each pipeline on Kubeflow Pipelines as
its compiled IR (pipeline spec, then platform spec), for the KFP client (a pipeline on Vertex AI is
its template object in the graph); ``graph.json``, the whole resource graph (addresses, type tokens,
inputs, dependencies) that the Pulumi program reads, as compact JSON with one resource per line.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Mapping

from mlopsctl.compiler.context import ownership_labels
from mlopsctl.config.source import read_regular
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.io import gitutil
from mlopsctl.io.fileio import sync_dir, write_tree
from mlopsctl.io.yamlio import dump_json_rows, dump_yaml
from mlopsctl.output import ApplyError
from mlopsctl.output.argocd import applications
from mlopsctl.state import AppliedResource, State

GRAPH_FILE = "graph.json"
KUSTOMIZATION = "kustomization.yaml"
MAX_RENDERED_BYTES = 1 << 30
"""Past this, a file of an earlier render is not read (it is then no render's)."""
Files = dict[str, str]
"""Relative path → file content."""
SYNC_OPTIONS = "SkipDryRunOnMissingResource=true,ServerSideApply=true"
"""On every object of ``manifests/``, so that whatever Application syncs the folder does what it needs:
objects whose CRDs the add-ons of the same sync install skip the dry run (which would otherwise fail the
whole first sync, and Argo CD would not retry that revision), and objects are applied server-side
(PipelineVersions outgrow the annotation client-side apply keeps)."""


def target_dir(target: Target) -> pathlib.PurePosixPath:
    return pathlib.PurePosixPath(target.env, target.region)


def render_target(graph: Graph, project: str) -> Files:
    """Every file of one target's folder, in memory."""
    files: Files = {}
    manifests = []
    ordered = graph.ordered()
    for resource in ordered:
        if resource.is_kubernetes:
            path = f"manifests/{resource.inputs['kind'].lower()}-{resource.name}.yaml"
            if path in files:
                raise ValueError(f"two objects render to {path}")
            files[path] = dump_yaml(_synced(resource.inputs))
            manifests.append(path)
            spec = resource.inputs.get("spec")
            if resource.inputs["kind"] == "PipelineVersion" and isinstance(spec, dict):
                # the compiler checked the shape of what a template override renders here
                documents = [spec.get("pipelineSpec"), spec.get("platformSpec")]
                files[f"pipelines/{spec.get('pipelineName')}.yaml"] = "---\n".join(
                    dump_yaml(d) for d in documents if d
                )
    labels = ownership_labels(project, graph.target)
    for name, app in applications(graph, labels).items():
        files[f"platform/{name}.yaml"] = dump_yaml(app)
        manifests.append(f"platform/{name}.yaml")
    files[KUSTOMIZATION] = dump_yaml(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": manifests,
        }
    )
    files[GRAPH_FILE] = dump_json_rows(
        {
            "project": project,
            "env": graph.target.env,
            "region": graph.target.region,
            "gcpProject": graph.gcp_project,
            "resources": [graph_entry(r) for r in ordered],
        },
        "resources",
    )
    return files


def _synced(inputs: Mapping[str, object]) -> dict[str, object]:
    metadata = inputs["metadata"]
    assert isinstance(metadata, Mapping)
    annotations = {**metadata.get("annotations", {}), "argocd.argoproj.io/sync-options": SYNC_OPTIONS}
    return {**inputs, "metadata": {**metadata, "annotations": annotations}}


def rendered_state(out: pathlib.Path, target: Target, project: str) -> State | None:
    """What an earlier render wrote for ``target`` under ``out`` (its ``graph.json``), as state: the
    inputs a render carries over where only volatile provenance changed. None when there is none
    that can be read, or it is another project's."""
    try:
        document = json.loads(_read(out / target.env / target.region / GRAPH_FILE))
        if document["project"] != project:
            return None
        resources = {
            entry["address"]: AppliedResource(
                entry["address"], entry["type"], entry["name"], entry["inputs"], tuple(entry["dependsOn"])
            )
            for entry in document["resources"]
        }
        return State(project, target, document["gcpProject"], None, "", resources)
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    out: pathlib.Path,
    rendered: Mapping[Target, Files],
    removed: tuple[Target, ...] = (),
    *,
    overwrite_uncommitted: bool = False,
) -> None:
    """Replace each target's folder under ``out`` with its rendered files; delete removed targets' folders.

    Each folder is written to a temporary sibling (``.<region>.new-*``) and swapped in by
    renames: the old folder is renamed aside (``.<region>.old-*/<region>``), the new one in,
    then the old one is removed. A removed target's folder is renamed aside
    (``.<region>.gone-*``) before it is deleted. A reader sees the old folder or the new one,
    never a mix, and what a killed run leaves behind is put right first (see ``recover``).

    In a Git work tree, nothing is written while a file it would change or delete holds uncommitted
    changes (``refuse_uncommitted``), unless ``overwrite_uncommitted``: a caller
    that checked before committing what it now writes (the gitops target).
    """
    recover(out)
    if not overwrite_uncommitted:
        refuse_uncommitted(out, rendered, removed)
    out.mkdir(parents=True, exist_ok=True)
    for target, files in rendered.items():
        final = out / target_dir(target)
        final.parent.mkdir(parents=True, exist_ok=True)
        _swap(_stage(final, files), final)
    for target in removed:
        final = out / target_dir(target)
        if final.exists():
            gone = _aside(final, "gone")
            os.replace(final, gone / final.name)
            shutil.rmtree(gone)
        remove_if_empty(final.parent)


class UncommittedWork(ApplyError):
    """A render would overwrite or delete uncommitted work; nothing was written."""


def refuse_uncommitted(
    out: pathlib.Path, rendered: Mapping[Target, Files], removed: tuple[Target, ...] = ()
) -> None:
    """Raise :class:`UncommittedWork` if a folder of ``rendered`` or ``removed`` under ``out`` is in a Git
    work tree where a file that the write would change or delete has uncommitted changes (staged or
    not): the user's work, which nothing could bring back. An untracked file is an earlier render's,
    never committed (rendering again is the usual loop before a commit; a file no render wrote is
    refused by :func:`foreign_files`); a file whose content the write keeps, or that is missing (its
    content is in Git), does not count; nor does any outside the folders. Outside a Git work tree
    (or without git) there is nothing to check."""
    found: list[tuple[str, str]] = []
    for target in (*rendered, *removed):
        folder = out / target_dir(target)
        if folder.is_symlink() or not folder.is_dir():
            continue  # a link is replaced, not what it names
        root = gitutil.toplevel(folder)
        if root is None:
            continue
        inside = folder.resolve()
        files = rendered.get(target, {})
        for code, path in gitutil.changes(root, [inside.relative_to(root).as_posix()]):
            relative = (root / path).relative_to(inside).as_posix()
            if code == "??":
                continue  # a render's output never committed (a file no render wrote is foreign_files')
            if _would_change(root / path, files.get(relative)):
                found.append((code, f"{folder}/{relative}"))
    if found:
        raise UncommittedWork(
            f"--out {out}: render replaces each <env>/<region>/ folder, and these files in them have "
            "uncommitted changes in Git, so it would overwrite or delete them: commit them, discard them "
            f"(git restore), or render into another folder (nothing was written):{changes_listing(found)}"
        )


def _would_change(file: pathlib.Path, new: str | None) -> bool:
    if file.is_symlink() or (file.exists() and not file.is_file()):
        return True
    if not file.exists():
        return False  # deleted, and its content is in Git: writing it again loses nothing
    return new is None or file.read_bytes() != new.encode()


def changes_listing(found: list[tuple[str, str]], limit: int = 20) -> str:
    """``git status``'s (code, path) pairs as the indented lines of a refusal."""
    more = f"\n  ... and {len(found) - limit} more" if len(found) > limit else ""
    return "".join(f"\n  {code} {path}" for code, path in found[:limit]) + more


def recover(out: pathlib.Path) -> None:
    """Put right what a killed ``write_targets`` left in ``out/<env>/``.

    A folder renamed aside whose target is missing (killed between the two renames of a
    swap) is renamed back; then every temporary sibling is removed.
    """
    if not out.is_dir():
        return
    for env in sorted(out.iterdir()):
        if env.name.startswith(".") or env.is_symlink() or not env.is_dir():
            continue
        for entry in sorted(env.iterdir()):
            match = _LEFTOVER.fullmatch(entry.name)
            if match is None or entry.is_symlink() or not entry.is_dir():
                continue
            final, old = env / match["name"], entry / match["name"]
            if match["kind"] == "old" and old.is_dir() and not final.exists():
                os.replace(old, final)
                sync_dir(env)
            shutil.rmtree(entry)


_RENDERED = re.compile(r"kustomization\.yaml|graph\.json|(manifests|platform|pipelines)(/[^/]+\.yaml)?")
"""The paths a render writes in a target's folder (see the module)."""


def foreign_files(out: pathlib.Path, rendered: Mapping[Target, Files]) -> list[str]:
    """What the folders of the ``rendered`` targets under ``out`` hold that a render does not write,
    and replacing them would delete (a link counts as foreign: what it names is no render's). A
    ``*.yaml`` of ``manifests/``, ``platform/`` or ``pipelines/`` is a render's if this render writes it
    or the last one did (its ``kustomization.yaml`` and ``graph.json`` name it). In a folder with no
    such trace of an earlier render, every file is foreign that the render would delete or change,
    whatever its name: the user's own ``graph.json`` or ``manifests/configmap-mine.yaml``."""
    found = []
    for target, files in rendered.items():
        folder = out / target_dir(target)
        if folder.is_symlink() or not folder.is_dir():
            continue
        before, traced = _written_before(folder)
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            kind_ok = path.is_dir() if "/" not in relative and "." not in relative else path.is_file()
            if not traced:  # no render wrote this folder: only what this one writes, as it is, is its own
                added = not path.is_symlink() and path.is_file() and not _holds(path, files.get(relative))
            else:
                added = (
                    "/" in relative
                    and before is not None
                    and relative not in before
                    and relative not in files
                )
            if path.is_symlink() or not kind_ok or not _RENDERED.fullmatch(relative) or added:
                found.append(f"{target_dir(target)}/{relative}")
    return found


def _holds(file: pathlib.Path, content: str | None) -> bool:
    """Whether ``file`` holds exactly ``content`` (so that writing it again loses nothing)."""
    try:
        return content is not None and file.read_bytes() == content.encode()
    except OSError:
        return False


def _written_before(folder: pathlib.Path) -> tuple[set[str] | None, bool]:
    """The files of ``manifests/``, ``platform/`` and ``pipelines/`` the last render wrote in ``folder``
    (None when its kustomization or graph cannot be read: nothing then counts as added), and whether
    an earlier render wrote the folder at all: its ``graph.json`` is there, and it or the
    kustomization can be read as a render's (one of them may have been edited since)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    listed: set[str] | None = None
    versions: set[str] | None = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError, YAMLError):
        kustomization = YAML(typ="safe").load(_read(folder / KUSTOMIZATION))
        listed = {str(r) for r in kustomization["resources"]}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        document = json.loads(_read(folder / GRAPH_FILE))
        if isinstance(document.get("project"), str):  # else it is no render's graph
            versions = {
                f"pipelines/{r['inputs']['spec']['pipelineName']}.yaml"
                for r in document["resources"]
                if r["inputs"].get("kind") == "PipelineVersion"
            }
    traced = (folder / GRAPH_FILE).is_file() and (listed is not None or versions is not None)
    return (None if listed is None or versions is None else listed | versions), traced


def _read(file: pathlib.Path) -> str:
    """A file a render wrote, read without waiting on a FIFO or device put in its place; a larger
    one than a render writes is no render's (ValueError), not read cut short."""
    data = read_regular(file, MAX_RENDERED_BYTES + 1)
    if len(data) > MAX_RENDERED_BYTES:
        raise ValueError(f"{file} is larger than a render writes")
    return data.decode("utf-8")


def remove_if_empty(folder: pathlib.Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


_LEFTOVER = re.compile(r"\.(?P<name>[^/]+)\.(?P<kind>new|old|gone)-[A-Za-z0-9_]+")
"""A temporary sibling of ``<name>``, as ``tempfile.mkdtemp`` names it."""


def _aside(final: pathlib.Path, kind: str) -> pathlib.Path:
    return pathlib.Path(tempfile.mkdtemp(prefix=f".{final.name}.{kind}-", dir=final.parent))


def _stage(final: pathlib.Path, files: Files) -> pathlib.Path:
    """The new folder of ``final``, written beside it."""
    staging = _aside(final, "new")
    try:
        staging.chmod(0o755)
        write_tree(staging, files)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _swap(staging: pathlib.Path, final: pathlib.Path) -> None:
    if final.exists():
        old = _aside(final, "old")
        os.replace(final, old / final.name)
        os.replace(staging, final)
        sync_dir(final.parent)
        shutil.rmtree(old)
    else:
        os.replace(staging, final)
        sync_dir(final.parent)
