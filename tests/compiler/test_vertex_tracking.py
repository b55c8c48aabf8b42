"""Experiment tracking: a TensorBoard per target, the experiment and TensorBoard steps log to, and who may."""

from __future__ import annotations

import pathlib
import re
import sys

import pytest
from helpers import OWNED_STAGED_DATA, compile_text, write

from mlopsctl.api import validate
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.compiler.vertex_tracking import (
    EXPERIMENT_ENV,
    RUN_ID,
    TENSORBOARD,
    TENSORBOARD_ENV,
    experiment,
    tracking_env,
)
from mlopsctl.config.models.pipelines import Step
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from mocked import Recorder, run
from tracking_cases import TRACKED

DEV = Target("dev", "us-central1")
PIPELINE = TRACKED
EXPERIMENT = re.compile(r"(projects/[^/]+/locations/([^/]+)/metadataStores/[^/]+)/contexts/([^/]+)")
TENSORBOARD_NAME = re.compile(r"projects/[^/]+/locations/([^/]+)/tensorboards/[^/]+")
"""What the stage runtime accepts (mlopsctl_stage.tracking)."""
EXPERIMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ACCOUNT = "pl-train-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"


def _tracking(experiments: bool, tensorboard: bool) -> str:
    return f"tracking: {{experiments: {str(experiments).lower()}, tensorboard: {str(tensorboard).lower()}}}\n"


def _context(tmp_path: pathlib.Path, text: str, target: Target = DEV) -> BuildContext:
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return BuildContext(validation.targets[target].config, target, tmp_path)


def _grants(graph: Graph) -> list[str]:
    return sorted(r.name for r in graph if r.name.endswith("-aiplatform-user"))


def test_a_tensorboard_per_environment_and_region(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, OWNED_STAGED_DATA + PIPELINE + _tracking(False, True))
    boards = {t: [r for r in g if r.type == TENSORBOARD] for t, g in graphs.items()}
    assert {t: len(found) for t, found in boards.items()} == dict.fromkeys(graphs, 1)
    [board] = boards[DEV]
    assert board.name == "demo"
    assert without(TENSORBOARD, board.inputs, PROVENANCE) == {
        "displayName": "demo-dev-us-central1",
        "description": "TensorBoard of demo in dev (mlopsctl).",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "labels": {
            "managed-by": "mlopsctl",
            "mlops-env": "dev",
            "mlops-project": "demo",
            "mlops-region": "us-central1",
        },
    }


@pytest.mark.parametrize(
    ("experiments", "tensorboard", "expected"),
    [
        (False, False, {"ingest": set(), "fit": set(), "check": set(), "spread": set()}),
        (True, False, {"ingest": set(), "fit": set(), "check": {EXPERIMENT_ENV}, "spread": {EXPERIMENT_ENV}}),
        (
            False,
            True,
            {
                "ingest": set(),
                "fit": {TENSORBOARD_ENV},
                "check": {TENSORBOARD_ENV},
                "spread": {TENSORBOARD_ENV},
            },
        ),
        (
            True,
            True,
            {
                "ingest": set(),
                "fit": {TENSORBOARD_ENV},
                "check": {EXPERIMENT_ENV, TENSORBOARD_ENV},
                "spread": {EXPERIMENT_ENV, TENSORBOARD_ENV},
            },
        ),
    ],
)
def test_which_steps_log_to_vertex_ai(
    tmp_path: pathlib.Path, experiments: bool, tensorboard: bool, expected: dict[str, set[str]]
) -> None:
    ctx = _context(tmp_path, OWNED_STAGED_DATA + PIPELINE + _tracking(experiments, tensorboard))
    steps = dict(ctx.config.pipelines["train"].steps)
    steps["spread"] = Step.model_validate(
        {
            "kind": "train",
            "image": "trainer:1",
            "command": ["torchrun", "train.py"],
            "distributed": {"framework": "pytorch", "workers": 2},
        }
    )  # a distributed train runs the train-job launcher, which logs like evaluate
    found = {name: tracking_env(ctx, "train", step) for name, step in steps.items()}
    assert {name: set(env) for name, env in found.items()} == expected
    for env in found.values():
        if EXPERIMENT_ENV in env:
            assert env[EXPERIMENT_ENV] == (
                "projects/acme-demo-dev/locations/us-central1/metadataStores/default/contexts/demo-train-dev"
            )
        if TENSORBOARD_ENV in env:
            assert (
                env[TENSORBOARD_ENV]
                == "projects/acme-demo-dev/locations/us-central1/tensorboards/demo-dev-us-central1"
            )
            assert TENSORBOARD_NAME.fullmatch(env[TENSORBOARD_ENV])


@pytest.mark.parametrize("pipeline", ["train", "t" + "-rain" * 7])
def test_experiments_are_per_pipeline_and_environment_as_the_stage_reads_them(
    tmp_path: pathlib.Path, pipeline: str
) -> None:
    text = OWNED_STAGED_DATA + PIPELINE.replace("  train:\n", f"  {pipeline}:\n") + _tracking(True, False)
    names = {
        t: experiment(_context(tmp_path / t.env, text, t), pipeline)
        for t in (DEV, Target("prod", "us-central1"))
    }
    for target, name in names.items():
        found = EXPERIMENT.fullmatch(name)
        assert found is not None and found.group(2) == target.region
        assert found.group(1).endswith("/metadataStores/default")
        assert EXPERIMENT_ID.match(found.group(3)), found.group(3)
    assert len(set(names.values())) == 2


def test_the_run_id_is_the_pipeline_job_id_placeholder() -> None:
    assert RUN_ID == "{{$.pipeline_job_uuid}}"


@pytest.mark.parametrize(
    ("tracking", "placement", "expected"),
    [
        (_tracking(False, False), "", []),
        (_tracking(True, False), "", ["pipeline-train-aiplatform-user"]),
        (_tracking(False, True), "", ["pipeline-train-aiplatform-user"]),
        # On Vertex AI every pipeline's account has it already: one grant each.
        (
            _tracking(True, True),
            "placement: {pipelines: vertex}\n",
            ["pipeline-report-aiplatform-user", "pipeline-train-aiplatform-user"],
        ),
    ],
)
def test_accounts_of_pipelines_that_log_may_write_to_vertex_ai(
    tmp_path: pathlib.Path, tracking: str, placement: str, expected: list[str]
) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + PIPELINE + tracking + placement)[DEV]
    assert _grants(graph) == expected
    for name in expected:
        grant = graph.resources[f"{DEV}/gcp:projects/iAMMember:IAMMember/{name}"]
        assert grant.inputs["role"] == "roles/aiplatform.user"
    if expected:
        grant = graph.resources[f"{DEV}/gcp:projects/iAMMember:IAMMember/pipeline-train-aiplatform-user"]
        assert grant.inputs["member"] == f"serviceAccount:{ACCOUNT}"


def test_the_pulumi_program_registers_the_tensorboard(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + PIPELINE + _tracking(True, True))[DEV]
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    board = recorder.one(TENSORBOARD, "demo")
    assert board.inputs["displayName"] == "demo-dev-us-central1"
    assert board.inputs["region"] == "us-central1"
