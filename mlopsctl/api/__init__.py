"""The library: what each command does, as typed functions that return result objects.

The CLI (:mod:`mlopsctl.cli`) only parses flags, calls one of these and prints the result through
a view (:mod:`mlopsctl.views`). Other tools and the tests call them directly::

    with api.open_config(pathlib.Path("mlops.yaml")) as validation:
        if validation.ok:
            result = api.plan(validation, pathlib.Path("mlops.yaml"))
            print(render_text(result.plan))

The data flows one way: load → resolve → validate → check (:mod:`mlopsctl.config`) → compile
(:mod:`mlopsctl.compiler`) → diff (:mod:`mlopsctl.plan`) → views, render or apply
(:mod:`mlopsctl.output`). Every failure the user must fix is a :class:`UserError`.

Names are imported when first used, so that ``validate`` loads only the config stage.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlopsctl.api.commands import (
        CheckResult,
        PromoteMode,
        Promotion,
        RenderResult,
        Unlocked,
        check,
        force_unlock,
        parse_params,
        platform,
        promote,
        render,
        run_local,
        status,
    )
    from mlopsctl.api.errors import UserError
    from mlopsctl.api.plans import (
        APPLY_OPERATION,
        ApplyResult,
        BaseConfigError,
        PlanResult,
        ProtectedResourceError,
        applied_as_of,
        apply,
        apply_graphs,
        basis,
        graphs_for,
        is_saved_plan,
        make_plan,
        plan,
        preview,
        read_saved_plan,
        release_of,
        replay,
        save_plan,
    )
    from mlopsctl.api.project import open_config
    from mlopsctl.api.runs import SubmittedRun, submit_run
    from mlopsctl.api.targets import NO_TARGET, TargetKind, TargetSpec, applied_at_ref
    from mlopsctl.compiler import compile_graphs
    from mlopsctl.config.project import ALL, Selection, TargetConfig, Validation, validate, with_targets

_HOMES = {
    "ALL": "mlopsctl.config.project",
    "APPLY_OPERATION": "mlopsctl.api.plans",
    "ApplyResult": "mlopsctl.api.plans",
    "BaseConfigError": "mlopsctl.api.plans",
    "CheckResult": "mlopsctl.api.commands",
    "NO_TARGET": "mlopsctl.api.targets",
    "PlanResult": "mlopsctl.api.plans",
    "PromoteMode": "mlopsctl.api.commands",
    "Promotion": "mlopsctl.api.commands",
    "ProtectedResourceError": "mlopsctl.api.plans",
    "RenderResult": "mlopsctl.api.commands",
    "Selection": "mlopsctl.config.project",
    "SubmittedRun": "mlopsctl.api.runs",
    "TargetConfig": "mlopsctl.config.project",
    "TargetKind": "mlopsctl.api.targets",
    "TargetSpec": "mlopsctl.api.targets",
    "Unlocked": "mlopsctl.api.commands",
    "UserError": "mlopsctl.api.errors",
    "Validation": "mlopsctl.config.project",
    "applied_as_of": "mlopsctl.api.plans",
    "applied_at_ref": "mlopsctl.api.targets",
    "apply": "mlopsctl.api.plans",
    "apply_graphs": "mlopsctl.api.plans",
    "basis": "mlopsctl.api.plans",
    "check": "mlopsctl.api.commands",
    "compile_graphs": "mlopsctl.compiler",
    "force_unlock": "mlopsctl.api.commands",
    "graphs_for": "mlopsctl.api.plans",
    "is_saved_plan": "mlopsctl.api.plans",
    "make_plan": "mlopsctl.api.plans",
    "open_config": "mlopsctl.api.project",
    "parse_params": "mlopsctl.api.commands",
    "plan": "mlopsctl.api.plans",
    "platform": "mlopsctl.api.commands",
    "preview": "mlopsctl.api.plans",
    "promote": "mlopsctl.api.commands",
    "read_saved_plan": "mlopsctl.api.plans",
    "release_of": "mlopsctl.api.plans",
    "replay": "mlopsctl.api.plans",
    "render": "mlopsctl.api.commands",
    "run_local": "mlopsctl.api.commands",
    "save_plan": "mlopsctl.api.plans",
    "status": "mlopsctl.api.commands",
    "submit_run": "mlopsctl.api.runs",
    "validate": "mlopsctl.config.project",
    "with_targets": "mlopsctl.config.project",
}
__all__ = [
    "ALL",
    "APPLY_OPERATION",
    "NO_TARGET",
    "ApplyResult",
    "BaseConfigError",
    "CheckResult",
    "PlanResult",
    "PromoteMode",
    "Promotion",
    "ProtectedResourceError",
    "RenderResult",
    "Selection",
    "SubmittedRun",
    "TargetConfig",
    "TargetKind",
    "TargetSpec",
    "Unlocked",
    "UserError",
    "Validation",
    "applied_as_of",
    "applied_at_ref",
    "apply",
    "apply_graphs",
    "basis",
    "check",
    "compile_graphs",
    "force_unlock",
    "graphs_for",
    "is_saved_plan",
    "make_plan",
    "open_config",
    "parse_params",
    "plan",
    "platform",
    "preview",
    "promote",
    "read_saved_plan",
    "release_of",
    "render",
    "replay",
    "run_local",
    "save_plan",
    "status",
    "submit_run",
    "validate",
    "with_targets",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'mlopsctl.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
