"""``mlopsctl-stage <stage> --config JSON [role flags]``: the entry point of every built-in stage.

Each stage lives in ``mlopsctl_stage.stages.<module>`` and is imported only when it runs, so
a stage pays for no other stage's libraries. A stage module provides ``HELP`` (one line),
``add_arguments(parser)`` for its role flags and ``run(args, config)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from types import ModuleType
from typing import Any, NoReturn

from mlopsctl_stage import __version__
from mlopsctl_stage.errors import StageError

STAGES: dict[str, tuple[str, str]] = {
    "ingest": ("ingest", "Read a GCS prefix or a BigQuery table into train/eval examples."),
    "statistics": ("statistics", "Per-feature statistics of examples, as TFMD statistics."),
    "schema": ("schema", "Infer a TFMD schema from statistics."),
    "validate": ("validate", "Anomalies of statistics against a schema, with a pass/fail output."),
    "transform": ("transform", "Apply the declared feature transforms, fitted on the train split."),
    "evaluate": ("evaluate", "Metrics of a model on the eval split, and whether it meets its thresholds."),
    "push": ("push", "Copy a blessed model to its registry path under a content-addressed version."),
    "batch-predict": ("batch_predict", "Score a table or GCS files through an endpoint, in batches."),
    "serve": ("serve", "Serve a model over KServe's v1/v2 HTTP protocol (local runs)."),
    "drift": ("drift", "Compare recent requests with a baseline, feature by feature, and act on drift."),
    "skew": ("drift", "Compare serving requests with the training data, feature by feature."),
    "request-logger": ("request_logger", "Receive KServe logger CloudEvents and write them to BigQuery."),
    "retrain-receiver": (
        "retrain_receiver",
        "Start the retraining runs that SLO alerts and pulled monitor notifications ask for.",
    ),
    "start-run": ("start_run", "Start a run of a published pipeline version through the KFP API."),
    "train-job": ("train_job", "Launch a distributed training job, wait for it and collect its model."),
    "tune-job": ("tune_job", "Launch a Katib experiment, wait for it and write the best hyperparameters."),
}
"""Stage name → (module under ``mlopsctl_stage.stages``, one line of help)."""


PROG = "mlopsctl-stage"


def _module(stage: str) -> ModuleType:
    return importlib.import_module(f"mlopsctl_stage.stages.{STAGES[stage][0]}")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, as every other failure (exit 2, argparse's code for them)."""

    stage: str | None = None
    """The stage being run, named in the errors of the top-level parser (unrecognized arguments)."""

    def error(self, message: str) -> NoReturn:
        where = f"{PROG} {self.stage}" if self.prog == PROG and self.stage else self.prog
        print(f"{where}: usage: {message} (see {where} --help)", file=sys.stderr)
        raise SystemExit(2)


def _parser(stage: str | None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="The built-in stages of mlopsctl. Run `mlopsctl-stage STAGE --help` for one stage.",
    )
    parser.add_argument("--version", action="version", version=f"mlopsctl-stage {__version__}")
    parser.stage = stage
    commands = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for name, (_, summary) in STAGES.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.add_argument("--config", default="{}", help="The stage's settings, one JSON object.")
        if name == stage:
            _module(name).add_arguments(sub)
    return parser


def _config(stage: str, text: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise StageError("--config", f"not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(config, dict):
        raise StageError("--config", f"must be a JSON object, not {type(config).__name__}")
    return config


def _fail(stage: str, message: str, code: int = 1) -> NoReturn:
    print(f"mlopsctl-stage {stage}: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    stage = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(stage if stage in STAGES else None).parse_args(argv)
    try:
        _module(args.stage).run(args, _config(args.stage, args.config))
    except StageError as error:
        _fail(args.stage, str(error))
    except KeyboardInterrupt:
        _fail(args.stage, "interrupted", 130)
    except Exception as error:  # a bug, or a library failing in a way no check foresaw
        if os.environ.get("MLOPSCTL_STAGE_DEBUG"):
            raise
        _fail(args.stage, f"unexpected {type(error).__name__}: {error} (MLOPSCTL_STAGE_DEBUG=1 shows where)")
