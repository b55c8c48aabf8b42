"""A pipeline's DAG as a Mermaid flowchart, read from its compiled spec (the KFP IR).

Steps are nodes; condition and loop groups are subgraphs holding their steps;
an edge is a dependency recorded by the compiler (data or ordering).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mlopsctl.graph import JSON

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def pipeline_flowchart(pipeline_spec: Mapping[str, JSON]) -> str:
    """The flowchart of ``pipeline_spec`` (``root.dag`` and the DAG components it uses)."""
    components: Mapping[str, JSON] = pipeline_spec.get("components", {})
    lines = ["flowchart LR"]
    _dag(pipeline_spec["root"]["dag"], components, lines, depth=1)
    return "\n".join(lines)


def _dag(dag: Mapping[str, JSON], components: Mapping[str, JSON], lines: list[str], depth: int) -> None:
    indent = "  " * depth
    tasks: Mapping[str, JSON] = dag.get("tasks", {})
    for name in sorted(tasks):
        task = tasks[name]
        inner = components.get(task["componentRef"]["name"], {}).get("dag")
        label = _label(task.get("taskInfo", {}).get("name", name))
        if inner is None:
            lines.append(f"{indent}{_id(name)}[{label}]")
            continue
        lines.append(f"{indent}subgraph {_id(name)} [{label}]")
        _dag(inner, components, lines, depth + 1)
        lines.append(f"{indent}end")
    for name in sorted(tasks):
        for upstream in sorted(tasks[name].get("dependentTasks", [])):
            lines.append(f"{indent}{_id(upstream)} --> {_id(name)}")


def _id(task: str) -> str:
    """A Mermaid node id that no task name can break (``end`` is a keyword, ``-`` an edge)."""
    return "t_" + _UNSAFE.sub("_", task)


def _label(text: str) -> str:
    return '"' + text.replace("&", "#amp;").replace('"', "#quot;") + '"'
