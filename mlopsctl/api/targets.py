"""Where a command plans against or applies to: an apply target chosen by its options, or the config
as of another Git ref."""

from __future__ import annotations

import enum
import functools
import pathlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlopsctl.api.errors import UserError

if TYPE_CHECKING:
    from mlopsctl.config.target import Target
    from mlopsctl.output import ApplyTarget
    from mlopsctl.state import State


class TargetKind(enum.StrEnum):
    gitops = "gitops"
    pulumi = "pulumi"
    kubernetes = "kubernetes"


@dataclass(frozen=True)
class TargetSpec:
    """An apply target as a command's options name it; nothing is opened until :meth:`open`."""

    kind: TargetKind | None = None
    repo: pathlib.Path | None = None
    """The deploy repository (gitops)."""
    backend: str | None = None
    """The Pulumi state backend (pulumi)."""
    context: str | None = None
    kubeconfig: str | None = None
    state: str | None = None
    """The kubernetes target's kube context, kubeconfig and state store."""

    @property
    def kube(self) -> dict[str, str]:
        """The kubernetes target's options that were given, by name."""
        given = {"context": self.context, "kubeconfig": self.kubeconfig, "state": self.state}
        return {k: v for k, v in given.items() if v is not None}

    @property
    def given(self) -> bool:
        return self.kind is not None or self.repo is not None or self.backend is not None or bool(self.kube)

    @property
    def effective_kind(self) -> TargetKind | None:
        """The kind named, or gitops when only a deploy repository is."""
        return self.kind or (TargetKind.gitops if self.repo is not None else None)

    def options(self) -> dict[str, str]:
        """The options given, as a saved plan records them."""
        named = {"repo": self.repo, "backend": self.backend}
        return {**{k: str(v) for k, v in named.items() if v is not None}, **self.kube}

    def open(self, file: pathlib.Path) -> ApplyTarget | None:
        """The apply target for the config ``file``; None when no target is named."""
        kube = self.kube
        if self.kind is TargetKind.kubernetes:
            if self.repo is not None or self.backend is not None:
                raise UserError(
                    "--repo and --backend are not for the kubernetes target; it keeps its state in --state"
                )
            from mlopsctl.output.kubernetes import KubernetesTarget, open_store

            store = functools.partial(open_store, file, self.state)
            return KubernetesTarget(store, kubeconfig=self.kubeconfig, context=self.context)
        if kube:
            raise UserError(f"--{min(kube)} is for --target kubernetes")
        if self.kind is TargetKind.pulumi:
            if self.repo is not None:
                raise UserError(
                    "--repo is for the gitops target; the pulumi target keeps its state in --backend"
                )
            from mlopsctl.output.pulumi import PulumiTarget

            return PulumiTarget(file, self.backend)
        if self.backend is not None:
            raise UserError("--backend is for --target pulumi")
        if self.kind is None and self.repo is None:
            return None
        if self.repo is None:
            raise UserError("--repo DIR is required: the deploy repository to apply to (or to plan against)")
        from mlopsctl.output.gitops import GitopsTarget

        return GitopsTarget(self.repo, file)


NO_TARGET = TargetSpec()
"""No apply target named: plans compare with empty state, applies go to gitops."""


def applied_at_ref(file: pathlib.Path, ref: str) -> dict[Target, State]:
    """The config as of ``ref``, compiled as if it had been applied: what a review diffs against."""
    from mlopsctl.api.plans import BaseConfigError, applied_as_of
    from mlopsctl.config.project import validate
    from mlopsctl.config.source import open_source

    with open_source(file, ref) as source:
        try:
            return applied_as_of(validate(source))
        except BaseConfigError as exc:
            raise UserError(str(exc)) from None
