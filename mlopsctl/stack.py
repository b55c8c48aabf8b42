"""The program of the ``stacks/`` Pulumi project, for the ``pulumi`` CLI.

The stack is named ``<env>-<region>``; its config ``mlopsctl:config`` is the path of
mlops.yaml (relative to the project folder). The program compiles that target's
graph and creates it exactly as ``mlopsctl apply --target pulumi`` does, exporting
the same state, so either can apply a stack the other applied. Having no plan, it
stamps the checkout's commit and source lines as compiled (docs/provenance.md): after
a new commit, ``pulumi up`` updates labels and annotations that ``mlopsctl apply``
would have left as applied.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable
from typing import Any

from mlopsctl.config.target import Target
from mlopsctl.output.pulumi import stack_name
from mlopsctl.pulumi.program import create
from mlopsctl.state import dump_state, state_from_graph

CONFIG_KEY = "mlopsctl:config"


class StackError(Exception):
    """The stack cannot be compiled: the message says why."""


def main() -> dict[str, Any]:
    """Compile and create this stack's target (address → Pulumi resource)."""
    import pulumi

    from mlopsctl import api
    from mlopsctl.config.source import open_source

    path = pathlib.Path(pulumi.Config("mlopsctl").require("config"))
    with open_source(path, None) as source:
        validation = api.validate(source)
        if not validation.ok:
            raise StackError("\n".join(d.to_text() for d in validation.diagnostics))
        target = _target(validation.targets, pulumi.get_stack(), path)
        graph = api.compile_graphs(validation)[target]
    if pulumi.get_project() != validation.project:
        pulumi.log.warn(
            f"this Pulumi project is '{pulumi.get_project()}' and {path} is '{validation.project}': "
            f"name it '{validation.project}' in Pulumi.yaml to share its stacks with mlopsctl"
        )
    state = state_from_graph(
        graph,
        project=validation.project,
        source_commit=source.commit,
        config_hash=validation.targets[target].config_hash,
    )
    return create(graph, dump_state(state))


def _target(targets: Iterable[Target], stack: str, path: pathlib.Path) -> Target:
    by_stack = {stack_name(t): t for t in targets}
    if stack not in by_stack:
        raise StackError(f"{path} has no target for stack {stack}; its stacks: {', '.join(by_stack)}")
    return by_stack[stack]
