"""What ``mlopsctl platform`` shows: per target, each cluster add-on, its exact version, how it is
installed and which workloads need it; then each Google-managed service the target uses (Vertex AI
Pipelines, endpoints, Model Registry, Model Monitoring, ...), as ``managed``, and for what."""

from __future__ import annotations

import json
from collections.abc import Mapping

from mlopsctl.config.addons import AddOnUse
from mlopsctl.config.target import Target

Report = Mapping[Target, list[AddOnUse]]


def render_json(report: Report) -> str:
    clusters = {str(target): [use.to_dict() for use in uses] for target, uses in report.items()}
    return json.dumps({"clusters": clusters}, indent=2, ensure_ascii=False) + "\n"


def render_text(report: Report) -> str:
    lines = []
    for target, uses in report.items():
        lines.append(f"{target}:" if uses else f"{target}: no add-ons")
        width = max((len(u.name) for u in uses), default=0)
        version_width = max((len(u.version) for u in uses), default=0)
        for use in uses:
            lines.append(f"  {use.name:<{width}}  {use.version:<{version_width}}  {use.install}")
            lines.append(f"  {'':<{width}}  needed by: {', '.join(use.needed_by)}")
            if use.values:
                shown = json.dumps(use.values, sort_keys=True, separators=(", ", ": "))
                lines.append(f"  {'':<{width}}  values: {shown}")
    return "\n".join(lines) + "\n"
