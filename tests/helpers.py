"""Small helpers shared by the tests."""

from __future__ import annotations

import contextlib
import pathlib
import textwrap
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from typer.testing import CliRunner

from mlopsctl.cli import app
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph
from mlopsctl.plan import Action, Plan, ResourceChange

if TYPE_CHECKING:
    from mlopsctl.api import ApplyResult, PlanResult, Selection, TargetSpec, Validation

PROD = Target("prod", "us-central1")
BUCKET = "gcp:storage/bucket:Bucket"

MINIMAL = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
environments:
  dev:
    gcpProject: acme-demo-dev
    regions: [us-central1]
  prod:
    gcpProject: acme-demo-prod
    regions: [us-central1, europe-west4]
"""
DEV_ONLY = MINIMAL.split("  prod:\n", 1)[0]
"""MINIMAL with its dev environment only."""
WITH_DATA = (
    MINIMAL
    + """\
data:
  buckets:
    raw: {}
  datasets:
    features: {}
"""
)

CLF_API = """\
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models-bucket/clf/v1"}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1}
"""
"""A scikit-learn model served by endpoint 'api' (append endpoint fields such as 'logging')."""
GPU_API = CLF_API.replace("framework: sklearn", "framework: pytorch")
"""CLF_API with a PyTorch model, which Vertex AI serves on GPUs too (sklearn's container has no GPU build)."""
STAGE_IMAGE = "  name: demo\n  stageImage: registry.example/stages:1\n"


def owned(text: str) -> str:
    """``text`` (MINIMAL or one made from it) with the owner that the Kubeflow profile of a project
    with pipelines needs."""
    return text.replace("  name: demo\n", "  name: demo\n  owner: ml-team@acme.example\n", 1)


OWNED = owned(MINIMAL)
STAGED = MINIMAL.replace("  name: demo\n", STAGE_IMAGE, 1)
"""MINIMAL with project.stageImage, which built-in stages, request loggers and monitors need."""
STAGED_DATA = WITH_DATA.replace("  name: demo\n", STAGE_IMAGE, 1)
OWNED_STAGED = owned(STAGED)
OWNED_STAGED_DATA = owned(STAGED_DATA)


def write(folder: pathlib.Path, text: str, name: str = "mlops.yaml") -> pathlib.Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def compile_text(folder: pathlib.Path, text: str) -> dict[Target, Graph]:
    """The graphs of an mlops.yaml written into ``folder``, which must validate cleanly."""
    from mlopsctl.api import compile_graphs, validate
    from mlopsctl.config.source import ConfigSource

    validation = validate(ConfigSource(write(folder, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)


def run(*args: str | pathlib.Path) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def selected(envs: Sequence[str] = (), regions: Sequence[str] = ()) -> Selection:
    """The selection ``--env``/``--region`` make (none: everything)."""
    from mlopsctl.api import Selection

    return Selection(tuple(envs), tuple(regions))


@contextlib.contextmanager
def validated(
    file: pathlib.Path, selection: Selection | None = None, ref: str | None = None
) -> Iterator[Validation]:
    """The validation of ``file`` (as of ``ref``), which must have no errors, while its source is open;
    what the user must fix while the block runs is an ``api.UserError``."""
    from mlopsctl import api

    with api.open_config(file, ref, selection or api.ALL) as validation:
        assert validation.ok, [d.to_text() for d in validation.diagnostics]
        yield validation


def planned(
    file: pathlib.Path,
    spec: TargetSpec | None = None,
    *,
    selection: Selection | None = None,
    ref: str | None = None,
    base: str | None = None,
) -> PlanResult:
    """``api.plan`` of the valid config ``file`` against ``spec``'s target (none: empty state)."""
    from mlopsctl import api

    selection = selection or api.ALL
    with validated(file, selection, ref) as validation:
        return api.plan(validation, file, selection, spec or api.NO_TARGET, base=base)


def applied(
    file: pathlib.Path,
    spec: TargetSpec,
    *,
    selection: Selection | None = None,
    ref: str | None = None,
    allow_destroy: bool = False,
) -> ApplyResult:
    """``api.apply`` of the valid config ``file`` to ``spec``'s target."""
    from mlopsctl import api

    selection = selection or api.ALL
    with validated(file, selection, ref) as validation:
        return api.apply(validation, file, selection, spec, allow_destroy=allow_destroy)


def save_plan(
    file: pathlib.Path,
    out: pathlib.Path,
    spec: TargetSpec | None = None,
    *,
    selection: Selection | None = None,
) -> PlanResult:
    """``plan --out``: plan the valid config ``file`` against ``spec``'s target and save it to ``out``."""
    from mlopsctl import api

    selection, spec = selection or api.ALL, spec or api.NO_TARGET
    with validated(file, selection) as validation:
        result = api.plan(validation, file, selection, spec)
        api.save_plan(result, out, file, None, selection, spec)
    return result


def apply_saved(path: pathlib.Path) -> ApplyResult:
    """``apply --plan``: apply the plan saved at ``path`` with the invocation it records."""
    from mlopsctl import api

    saved = api.read_saved_plan(path)
    file, envs, regions, ref, spec = api.replay(saved, path)
    selection = selected(envs, regions)
    with validated(file, selection, ref) as validation:
        return api.apply(validation, file, selection, spec, saved=saved)


def plan_text(plan: Plan) -> str:
    """What ``plan`` prints of ``plan`` (without colour)."""
    from mlopsctl.views.plan_views import render

    return render(plan, "text", no_color=True)


def make_change(
    actions: tuple[Action, ...],
    before: dict[str, JSON] | None,
    after: dict[str, JSON] | None,
    *,
    name: str = "raw",
    type_: str = BUCKET,
    target: Target = PROD,
    replace_paths: tuple[str, ...] = (),
    protect: bool = False,
) -> ResourceChange:
    """A hand-made change, for renderer tests."""
    return ResourceChange(
        address=f"{target}/{type_}/{name}",
        type=type_,
        name=name,
        target=target,
        actions=actions,
        before=before,
        after=after,
        replace_paths=replace_paths,
        protect=protect,
    )


def graph_sizes(path: pathlib.Path) -> dict[Target, int]:
    """How many resources each target of the config at ``path`` compiles to."""
    from mlopsctl.api import compile_graphs, validate
    from mlopsctl.config.source import ConfigSource

    validation = validate(ConfigSource(path, path.name, None))
    return {target: len(graph) for target, graph in compile_graphs(validation).items()}


Edits = list[tuple[str, str]]
"""Replacements ``(old, new)`` made in turn to a text, each once."""
Diagnostics = list[tuple[str, str | None]]
"""Each diagnostic: ``LINE:COLUMN: severity CODE: message`` and its hint."""


def edited(text: str, edits: Edits) -> str:
    """``text`` with each edit made once; each ``old`` must be in the text by its turn."""
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return text


def diagnostics(folder: pathlib.Path, text: str, code_folders: tuple[str, ...] = ()) -> Diagnostics:
    """The diagnostics of an mlops.yaml written into ``folder`` beside the (empty) ``code_folders``."""
    from mlopsctl.api import validate
    from mlopsctl.config.source import ConfigSource

    for name in code_folders:
        (folder / name).mkdir(exist_ok=True)
    found: Diagnostics = []
    for diagnostic in validate(ConfigSource(write(folder, text), "mlops.yaml", None)).diagnostics:
        first, _, hint = diagnostic.to_text().removeprefix("mlops.yaml:").partition("\n  hint: ")
        found.append((first, hint or None))
    return found


def stamped_commit(manifest: bytes) -> object:
    """The ``mlopsctl.dev/commit`` annotation of a rendered Kubernetes object. Read as YAML, not as
    text: the dumper quotes a commit that YAML 1.1 would read as a number (``0b1…``, ``1234e5…``)."""
    from ruamel.yaml import YAML

    from mlopsctl.compiler.provenance import COMMIT

    return YAML(typ="safe", pure=True).load(manifest)["metadata"]["annotations"].get(COMMIT)
