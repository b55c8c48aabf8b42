"""Helpers for tests that call the library's run, submit and check commands (``mlopsctl.api``) as
the CLI does: validate the config for the selection the flags make, then call one function."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypedDict, Unpack

import pytest
from helpers import selected, validated

if TYPE_CHECKING:
    from mlopsctl.api import CheckResult, Selection, SubmittedRun
    from mlopsctl.run.result import MonitorResult, PipelineResult


class LocalOptions(TypedDict, total=False):
    """The options of ``mlopsctl run NAME --local`` (``env`` defaults to ``dev``)."""

    env: str
    region: str | None
    params: Mapping[str, str] | None
    trials: int
    act: bool
    data: pathlib.Path | None


def run_locally(
    file: pathlib.Path,
    name: str,
    out: pathlib.Path,
    *,
    env: str = "dev",
    region: str | None = None,
    params: Mapping[str, str] | None = None,
    trials: int = 2,
    act: bool = False,
    data: pathlib.Path | None = None,
) -> PipelineResult | MonitorResult:
    """``api.run_local`` of ``name`` in ``env`` (``region``) of the valid config ``file``."""
    from mlopsctl import api

    with validated(file, selected([env], [region] if region else [])) as validation:
        return api.run_local(
            validation,
            name,
            out,
            env=env,
            region=region,
            params=params,
            trials=trials,
            act=act,
            data=data,
        )


def pipeline_run(
    file: pathlib.Path, name: str, out: pathlib.Path, **options: Unpack[LocalOptions]
) -> PipelineResult:
    """The local run of the pipeline or batch job ``name``."""
    from mlopsctl.run.result import PipelineResult

    result = run_locally(file, name, out, **options)
    assert isinstance(result, PipelineResult)
    return result


def monitor_run(
    file: pathlib.Path, name: str, out: pathlib.Path, **options: Unpack[LocalOptions]
) -> MonitorResult:
    """The local run of the drift or skew monitor ``name``."""
    from mlopsctl.run.result import MonitorResult

    result = run_locally(file, name, out, **options)
    assert isinstance(result, MonitorResult)
    return result


def statuses(result: PipelineResult) -> dict[str, str]:
    """Each step's status, in the order the run reports the steps."""
    return {name: step.status for name, step in result.steps.items()}


def submitted(
    file: pathlib.Path,
    name: str,
    *,
    env: str,
    region: str | None = None,
    params: Mapping[str, str] | None = None,
    kfp_host: str | None = None,
) -> SubmittedRun:
    """``api.submit_run`` of the pipeline ``name`` of the valid config ``file``."""
    from mlopsctl import api

    with validated(file, selected([env], [region] if region else [])) as validation:
        return api.submit_run(validation, name, env=env, region=region, params=params, kfp_host=kfp_host)


def checked(
    file: pathlib.Path,
    selection: Selection | None = None,
    *,
    repo: pathlib.Path | None = None,
    base: str | None = None,
) -> CheckResult:
    """``api.check`` of the valid config ``file``."""
    from mlopsctl import api

    selection = selection or api.ALL
    with validated(file, selection) as validation:
        return api.check(validation, file, selection, repo=repo, base=base)


def sarif(file: pathlib.Path) -> str:
    """The SARIF log that ``check --format sarif`` prints of the valid config ``file``."""
    from mlopsctl import __version__, api
    from mlopsctl.views.diagnostics import render_sarif

    with validated(file) as validation:
        result = api.check(validation, file)
        return render_sarif(result.findings, __version__, result.rules, validation.source.display)


def refusal(call: Callable[[], object]) -> str:
    """The message of the ``api.UserError`` that ``call`` raises."""
    from mlopsctl import api

    with pytest.raises(api.UserError) as caught:
        call()
    return str(caught.value)
