"""What a plan compares against: the apply target its options choose, or the config at another Git ref."""

from __future__ import annotations

import enum
import pathlib
from typing import TYPE_CHECKING, Annotated

import typer

from mlopsctl.cli.common import fail

if TYPE_CHECKING:
    from mlopsctl.config.target import Target
    from mlopsctl.output import ApplyTarget
    from mlopsctl.state import State


class TargetKind(enum.StrEnum):
    gitops = "gitops"
    pulumi = "pulumi"
    kubernetes = "kubernetes"


def apply_target(
    kind: TargetKind | None,
    repo: pathlib.Path | None,
    file: pathlib.Path,
    backend: str | None,
    kube: dict[str, str] | None = None,
) -> ApplyTarget | None:
    kube = kube or {}
    if kind is TargetKind.kubernetes:
        if repo is not None or backend is not None:
            fail("--repo and --backend are not for the kubernetes target; it keeps its state in --state")
        import functools

        from mlopsctl.output.kubernetes import KubernetesTarget, open_store

        store = functools.partial(open_store, file, kube.get("state"))
        return KubernetesTarget(store, kubeconfig=kube.get("kubeconfig"), context=kube.get("context"))
    if kube:
        fail(f"--{min(kube)} is for --target kubernetes")
    if kind is TargetKind.pulumi:
        if repo is not None:
            fail("--repo is for the gitops target; the pulumi target keeps its state in --backend")
        from mlopsctl.output.pulumi import PulumiTarget

        return PulumiTarget(file, backend)
    if backend is not None:
        fail("--backend is for --target pulumi")
    if kind is None and repo is None:
        return None
    if repo is None:
        fail("--repo DIR is required: the deploy repository to apply to (or to plan against)")
    from mlopsctl.output.gitops import GitopsTarget

    return GitopsTarget(repo)


TargetOpt = Annotated[
    TargetKind | None,
    typer.Option("--target", help="Diff against what this target applied (implied by --repo)."),
]
RepoOpt = Annotated[
    pathlib.Path | None,
    typer.Option("--repo", metavar="DIR", help="The deploy repository (gitops target): plan against it."),
]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", metavar="NAME", help="Kube context (kubernetes target); default: the current."),
]
KubeconfigOpt = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        metavar="PATH",
        help="Kubeconfig (kubernetes target); default $KUBECONFIG, else ~/.kube/config.",
    ),
]
StateOpt = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="URL",
        help="Where the kubernetes target keeps what it applied; default .mlopsctl/state beside the config.",
    ),
]


def kube_options(context: str | None, kubeconfig: str | None, state: str | None) -> dict[str, str]:
    """The kubernetes target's options that were given, by name."""
    given = {"context": context, "kubeconfig": kubeconfig, "state": state}
    return {k: v for k, v in given.items() if v is not None}


BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="URL",
        help="Pulumi state backend (pulumi target); default $PULUMI_BACKEND_URL, else .mlopsctl/pulumi "
        "beside the config.",
    ),
]


def applied_at_ref(file: pathlib.Path, ref: str) -> dict[Target, State]:
    from mlopsctl import api
    from mlopsctl.config.source import open_source

    with open_source(file, ref) as source:
        try:
            return api.applied_as_of(api.validate(source))
        except api.BaseConfigError as exc:
            fail(str(exc))
