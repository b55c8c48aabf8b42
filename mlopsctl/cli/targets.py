"""The options that name an apply target, shared by plan, apply and check."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING, Annotated

import typer

from mlopsctl.api.targets import TargetKind

if TYPE_CHECKING:
    from mlopsctl.api.targets import TargetSpec

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
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="URL",
        help="Pulumi state backend (pulumi target); default $PULUMI_BACKEND_URL, else .mlopsctl/pulumi "
        "beside the config.",
    ),
]
NoColorOpt = Annotated[
    bool, typer.Option("--no-color", help="No colour, even on a terminal (so does NO_COLOR=1).")
]


def target_spec(
    kind: TargetKind | None,
    repo: pathlib.Path | None,
    backend: str | None,
    context: str | None,
    kubeconfig: str | None,
    state: str | None,
) -> TargetSpec:
    from mlopsctl.api.targets import TargetSpec

    return TargetSpec(kind, repo, backend, context, kubeconfig, state)
