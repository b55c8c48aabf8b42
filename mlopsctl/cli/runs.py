"""The run command: a pipeline submitted to the environment's pipelines target, or a pipeline, batch job
or monitor run on this machine (``--local``)."""

from __future__ import annotations

import enum
import pathlib
from typing import Annotated

import typer

from mlopsctl.cli.common import (
    DEFAULT_FILE,
    FileArg,
    err,
    fail,
    refuse_unwritable_folder,
    selection_of,
    validated,
)


class RunFormat(enum.StrEnum):
    text = "text"
    json = "json"


def run(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="A pipeline; with --local also a batch job or a drift/skew monitor."
        ),
    ],
    env: Annotated[str, typer.Option("--env", "-e", metavar="ENV", help="The environment to run in.")],
    file: FileArg = DEFAULT_FILE,
    region: Annotated[
        str | None,
        typer.Option("--region", "-r", metavar="REGION", help="Its region; default: the first."),
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Run on this machine: kfp.local, each step a local process.")
    ] = False,
    out: Annotated[
        pathlib.Path | None,
        typer.Option("--out", "-o", metavar="DIR", help="Where a local run writes its data and outputs."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="K=V", help="A pipeline parameter for this run (repeatable)."),
    ] = None,
    local_trials: Annotated[
        int | None,
        typer.Option("--local-trials", metavar="N", help="Trials a tune step runs locally (default 2)."),
    ] = None,
    act: Annotated[
        bool,
        typer.Option("--act", help="Monitors: on a breach, run the retraining pipelines locally."),
    ] = False,
    data: Annotated[
        pathlib.Path | None,
        typer.Option("--data", metavar="DIR", help="The sample data (default: sample-data beside FILE)."),
    ] = None,
    kfp_host: Annotated[
        str | None,
        typer.Option(
            "--kfp-host",
            metavar="URL",
            help="Pipelines on GKE: the Kubeflow Pipelines UI or API as this machine reaches it "
            "(default: MLOPSCTL_KFP_HOST).",
        ),
    ] = None,
    fmt: Annotated[RunFormat, typer.Option("--format", "-f", help="Output format.")] = RunFormat.text,
) -> None:
    """Run a pipeline, batch job or monitor of one environment (docs/runs.md, docs/local-runs.md).

    Without --local it submits one run of the pipeline NAME to where the environment places its
    pipelines (Vertex AI Pipelines or Kubeflow Pipelines on GKE) and prints the run's link.
    With --local it runs on this machine, from the same compiled objects that go to the
    cluster, on the sample data beside the config. Exit 1 when a step (or the monitor) failed.
    """
    import json

    from mlopsctl import api

    as_json = fmt is RunFormat.json
    params = api.parse_params(param or [])
    selection = selection_of([env], [region] if region else None)
    if not local:
        local_only = {
            "--out": out is not None,
            "--data": data is not None,
            "--act": act,
            "--local-trials": local_trials is not None,
        }
        flag = next((flag for flag, given in local_only.items() if given), None)
        if flag is not None:
            fail(f"{flag} is for --local runs: a submitted run reads and writes where it runs")
        with validated(file, selection, json_document=as_json) as validation:
            submitted = api.submit_run(
                validation, name, env=env, region=region, params=params, kfp_host=kfp_host
            )
        if as_json:
            typer.echo(json.dumps(submitted.to_json(), indent=2))
        else:
            err(submitted.summary())
            typer.echo(submitted.link)
        return
    if out is None:
        fail("--out DIR is required: where the local run writes its data and outputs")
    refuse_unwritable_folder("--out", out)
    with validated(file, selection, writes=True, json_document=as_json) as validation:
        result = api.run_local(
            validation,
            name,
            out,
            env=env,
            region=region,
            params=params,
            trials=2 if local_trials is None else local_trials,
            act=act,
            data=data,
        )
        if as_json:
            typer.echo(json.dumps(result.to_json(), indent=2))
        else:
            for line in result.text_lines():
                typer.echo(line)
    if not result.ok:
        raise typer.Exit(1)
