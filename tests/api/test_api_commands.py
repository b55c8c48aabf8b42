"""The library's commands: each returns a result object, and what the user must fix is a UserError."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from helpers import WITH_DATA, write

from mlopsctl import api
from mlopsctl.config.target import Target
from mlopsctl.views import outcomes


def test_plan_against_empty_state_then_against_what_apply_recorded(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "cfg", WITH_DATA)
    deploy = tmp_path / "deploy"
    subprocess.run(["git", "init", "-q", str(deploy)], check=True)
    spec = api.TargetSpec(repo=deploy)
    with api.open_config(config) as validation:
        first = api.plan(validation, config)
        assert first.plan.summary.add > 0 and first.target is None and first.preview() is None
        applied = api.apply(validation, config, api.ALL, spec)
        assert applied.outcome.changed and applied.plan.summary == first.plan.summary
        again = api.plan(validation, config, api.ALL, spec)
    assert not again.plan.has_changes
    doc = json.loads(outcomes.apply_json(applied))
    assert doc["plan"]["summary"]["add"] == first.plan.summary.add and doc["outcome"]["changed"] is True


def test_a_saved_plan_replays_its_invocation(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    deploy = tmp_path / "deploy"
    subprocess.run(["git", "init", "-q", str(deploy)], check=True)
    selection = api.Selection(("dev",))
    spec = api.TargetSpec(repo=deploy)
    with api.open_config(config, selection=selection) as validation:
        result = api.plan(validation, config, selection, spec)
        api.save_plan(result, tmp_path / "plan.json", config, None, selection, spec)
    saved = api.read_saved_plan(tmp_path / "plan.json")
    file, envs, regions, ref, replayed = api.replay(saved, tmp_path / "plan.json")
    assert (file, envs, regions, ref) == (config, ["dev"], [], None)
    assert replayed == api.TargetSpec(api.TargetKind.gitops, deploy)


def test_render_returns_each_target_folder_and_its_files(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    with api.open_config(config) as validation:
        steps: list[str] = []
        result = api.render(validation, tmp_path / "out", progress=steps.append)
    folder, files = result.folders[Target("dev", "us-central1")]
    assert folder == tmp_path / "out" / "dev" / "us-central1" and "graph.json" in files
    assert all((folder / f).is_file() for f in files)
    assert steps[0] == "Rendering dev/us-central1 (1/3)" and steps[-1] == f"Writing {tmp_path / 'out'}"


def test_check_counts_error_findings(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    with api.open_config(config) as validation:
        result = api.check(validation, config)
    assert result.errors == sum(d.is_error for d in result.findings)
    assert result.rules and all(len(rule) == 2 for rule in result.rules.values())  # title, text: for SARIF


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (api.TargetSpec(api.TargetKind.kubernetes, repo=pathlib.Path("d")), "--repo and --backend are not"),
        (api.TargetSpec(context="c"), "--context is for --target kubernetes"),
        (api.TargetSpec(api.TargetKind.pulumi, repo=pathlib.Path("d")), "--repo is for the gitops target"),
        (api.TargetSpec(backend="file:///x"), "--backend is for --target pulumi"),
        (api.TargetSpec(api.TargetKind.gitops), "--repo DIR is required"),
    ],
)
def test_conflicting_target_options_are_user_errors(spec: api.TargetSpec, message: str) -> None:
    with pytest.raises(api.UserError, match=message):
        spec.open(pathlib.Path("mlops.yaml"))


def test_failures_of_the_stages_reach_the_caller_as_user_errors(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    with (
        pytest.raises(api.UserError, match=r"not a Git repository|git init"),
        api.open_config(config) as validation,
    ):
        api.apply(validation, config, api.ALL, api.TargetSpec(repo=tmp_path / "nowhere"))
    with pytest.raises(api.UserError, match="expected K=V"):
        api.parse_params(["novalue"])
    with pytest.raises(api.UserError, match="--env and --region name the locked state"):
        api.force_unlock(config, "abc")


def test_importing_the_api_loads_no_compiler() -> None:
    code = (
        "import sys; from mlopsctl import api; from mlopsctl.api import validate, Selection; "
        "print(sorted(m for m in sys.modules if m.startswith(('mlopsctl.compiler', 'kfp', 'pulumi'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("command", ["plan", "render", "check", "platform"])
def test_a_config_with_errors_is_a_user_error_and_nothing_is_written(
    tmp_path: pathlib.Path, command: str
) -> None:
    config = write(tmp_path / "cfg", WITH_DATA.replace("regions: [us-central1]", "regions: [nowhere-1]", 1))
    out = tmp_path / "out"
    calls: dict[str, Callable[[Any], object]] = {
        "plan": lambda v: api.plan(v, config),
        "render": lambda v: api.render(v, out),
        "check": lambda v: api.check(v, config),
        "platform": lambda v: api.platform(v),
    }
    with api.open_config(config) as validation:
        assert not validation.ok
        with pytest.raises(api.UserError, match=r"mlops.yaml has \d+ errors?: nothing was compiled"):
            calls[command](validation)
    assert not out.exists()
