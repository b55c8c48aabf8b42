"""``tune-job``: a Katib Experiment against a fake API server with the real kubernetes client; locally,
trials of a tiny script run as processes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fake_kube import NAMESPACE, POD, POD_UID, FakeKube, kube

from mlopsctl_stage.cli import main

__all__ = ["kube"]

TRIAL_ARGS = ["--data=x", "--lr=${trialParameters.lr}", "--depth=${trialParameters.depth}"]
TRIAL_ARGS += ["--opt=${trialParameters.optimizer}"]
EXPERIMENT: dict[str, Any] = {
    "apiVersion": "kubeflow.org/v1beta1",
    "kind": "Experiment",
    "metadata": {"name": "p-tune", "namespace": NAMESPACE},
    "spec": {
        "objective": {"type": "minimize", "objectiveMetricName": "loss"},
        "algorithm": {"algorithmName": "random"},
        "trialTemplate": {
            "primaryContainerName": "training",
            "trialParameters": [
                {"name": "lr", "reference": "lr"},
                {"name": "depth", "reference": "depth"},
                {"name": "optimizer", "reference": "opt"},
            ],
            "trialSpec": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "spec": {
                    "template": {
                        "metadata": {"labels": {"app": "tune"}},
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "training",
                                    "image": "trainer:1",
                                    "command": ["python", "tune.py"],
                                    "args": TRIAL_ARGS,
                                    "env": [{"name": "MODE", "value": "local"}],
                                }
                            ],
                        },
                    }
                },
            },
        },
    },
}
SPACE: dict[str, dict[str, Any]] = {
    "lr": {"type": "double", "min": 0.001, "max": 0.1, "scale": "log"},
    "depth": {"type": "int", "min": 2, "max": 8, "scale": "linear"},
    "opt": {"type": "categorical", "values": ["adam", "sgd"], "scale": "linear"},
}
CONFIG = {"experiment": EXPERIMENT, "searchSpace": SPACE, "objective": {"metric": "loss", "goal": "minimize"}}
NAME = "p-tune-0123abcd"
TRIALS = "/apis/kubeflow.org/v1beta1/namespaces/demo/trials"


def _tune(out: Path, config: dict[str, Any] = CONFIG) -> None:
    roles = ["--input", "examples", "gs://root/run/examples", "--best-hyperparameters", str(out)]
    main(["tune-job", "--config", json.dumps(config), *roles])


def _fails(out: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any] = CONFIG) -> str:
    with pytest.raises(SystemExit) as exit_info:
        _tune(out, config)
    assert exit_info.value.code == 1
    assert not out.exists()
    return capsys.readouterr().err.strip()


def _conditions(*types: str, **status: Any) -> dict[str, Any]:
    return {
        "conditions": [{"type": t, "status": "True", "reason": f"Experiment{t}"} for t in types],
        **status,
    }


def _trial(name: str, assignments: dict[str, str], state: str, loss: str | None) -> dict[str, Any]:
    metrics = [{"name": "loss", "min": loss, "max": "0.9", "latest": loss}] if loss else []
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Trial",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"katib.kubeflow.org/experiment": NAME}},
        "spec": {"parameterAssignments": [{"name": k, "value": v} for k, v in assignments.items()]},
        "status": {"conditions": [{"type": state, "status": "True"}], "observation": {"metrics": metrics}},
    }


BEST = {"lr": "0.01", "depth": "4", "opt": "sgd"}


def test_the_experiment_runs_for_the_run_and_its_optimal_trial_is_written(
    kube: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.put(f"{TRIALS}/{NAME}-best", _trial(f"{NAME}-best", BEST, "Succeeded", "0.2"))
    kube.put(
        f"{TRIALS}/{NAME}-bad",
        _trial(f"{NAME}-bad", {"lr": "0.1", "depth": "2", "opt": "adam"}, "Failed", None),
    )
    kube.put(f"{TRIALS}/other", {**_trial("other", BEST, "Succeeded", "0.0"), "metadata": {"name": "other"}})
    optimal = {
        "bestTrialName": f"{NAME}-best",
        "parameterAssignments": [{"name": k, "value": v} for k, v in BEST.items()],
        "observation": {"metrics": [{"name": "loss", "min": "0.2", "max": "0.9", "latest": "0.3"}]},
    }
    kube.script = [
        _conditions("Created"),
        _conditions("Created", "Running", trials=2, trialsRunning=2),
        _conditions(
            "Created", "Succeeded", trials=2, trialsSucceeded=1, trialsFailed=1, currentOptimalTrial=optimal
        ),
    ]
    _tune(tmp_path / "best")
    [created] = kube.created()
    assert created["metadata"]["name"] == NAME
    assert created["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": POD, "uid": POD_UID}
    ]
    pod = created["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"gke-gcsfuse/volumes": "true"}
    [volume] = pod["spec"]["volumes"]
    assert volume["csi"]["volumeAttributes"]["bucketName"] == "root"
    [container] = pod["spec"]["containers"]
    assert container["args"] == [*TRIAL_ARGS, "--examples=/gcs/root/run/examples"]
    assert container["volumeMounts"] == [{"name": volume["name"], "mountPath": "/gcs/root"}]
    assert created["spec"]["objective"] == EXPERIMENT["spec"]["objective"]
    assert f"GET {TRIALS}" in kube.calls()
    assert json.loads((tmp_path / "best/hyperparameters.json").read_text()) == {
        "lr": 0.01,
        "depth": 4,
        "opt": "sgd",
    }
    trials = json.loads((tmp_path / "best/trials.json").read_text())
    assert (trials["objective"], trials["best"]) == ({"metric": "loss", "goal": "minimize"}, f"{NAME}-best")
    assert sorted((t["name"], t["status"], t["metrics"]) for t in trials["trials"]) == [
        (f"{NAME}-bad", "Failed", {}),
        (f"{NAME}-best", "Succeeded", {"loss": 0.2}),
    ]
    out = capsys.readouterr().out
    assert f"Experiment {NAME}: 2 trials (2 running)" in out
    assert f"Experiment {NAME}: Succeeded (ExperimentSucceeded)" in out


def test_a_failed_experiment_fails_the_step(
    kube: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = {"type": "Failed", "status": "True", "message": "maxFailedTrialCount reached"}
    kube.script = [{"conditions": [failed]}]
    message = _fails(tmp_path / "best", capsys)
    assert message == f"mlopsctl-stage tune-job: Experiment {NAME}: failed: maxFailedTrialCount reached"


def test_an_experiment_without_an_optimal_trial_fails_the_step(
    kube: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.script = [_conditions("Succeeded", trials=1, trialsFailed=1)]
    assert _fails(tmp_path / "best", capsys).endswith(
        f"Experiment {NAME}: no trial succeeded with a value of loss"
    )


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"searchSpace": {}}, "--config (searchSpace): must map each hyperparameter"),
        (
            {"searchSpace": {"lr": {"type": "double", "min": 1}}},
            "searchSpace.lr): needs a type with min and max",
        ),
        ({"objective": {"metric": "loss", "goal": "lower"}}, "objective.goal): must be maximize or minimize"),
        ({"experiment": {"kind": "Experiment"}}, "--config (experiment): must be a Kubernetes object"),
    ],
)
def test_a_bad_config_is_refused_before_anything_is_created(
    kube: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], fragment: str
) -> None:
    assert fragment in _fails(tmp_path / "best", capsys, {**CONFIG, **change})
    assert kube.requests == []


TUNE_SCRIPT = """\
import argparse, os, pathlib, sys
parser = argparse.ArgumentParser()
for flag in ("--data", "--lr", "--depth", "--opt", "--examples"):
    parser.add_argument(flag)
args = parser.parse_args()
assert pathlib.Path(args.examples, "data.json").is_file() and os.environ["MODE"] == "local"
with open("trials.log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("BROKEN") == "exit":
    sys.exit(2)
if os.environ.get("BROKEN") == "silent":
    print("accuracy=0.5")
    sys.exit(0)
loss = (float(args.lr) - 0.01) ** 2 * 100 + abs(int(args.depth) - 4) + (0.5 if args.opt == "adam" else 0)
print(f"epoch 1: loss={loss + 1:.6f} accuracy=0.5")
print(f"loss = {loss:.6f}")
"""


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "tune.py").write_text(TUNE_SCRIPT)
    settings = {"root": str(tmp_path / "data"), "code": {"trainer:1": str(code)}, "trials": 3}
    (tmp_path / "local.json").write_text(json.dumps(settings))
    monkeypatch.setenv("MLOPSCTL_STAGE_LOCAL", str(tmp_path / "local.json"))
    examples = tmp_path / "data/gcs/root/run/examples"
    examples.mkdir(parents=True)
    (examples / "data.json").write_text("[]")
    return tmp_path


def _loss(parameters: dict[str, Any]) -> float:
    loss = (parameters["lr"] - 0.01) ** 2 * 100 + abs(parameters["depth"] - 4)
    return float(loss + (0.5 if parameters["opt"] == "adam" else 0))


def test_locally_random_trials_run_as_processes_and_the_best_is_written(local: Path) -> None:
    _tune(local / "best")
    trials = json.loads((local / "best/trials.json").read_text())
    assert [t["name"] for t in trials["trials"]] == [f"p-tune-local-{i}" for i in (1, 2, 3)]
    for trial in trials["trials"]:
        parameters = trial["parameters"]
        assert (
            0.001 <= parameters["lr"] <= 0.1
            and 2 <= parameters["depth"] <= 8
            and parameters["opt"] in SPACE["opt"]["values"]
        )
        assert isinstance(parameters["depth"], int)
        assert trial["status"] == "Succeeded"
        assert trial["metrics"] == {"loss": pytest.approx(_loss(parameters), abs=1e-5), "accuracy": 0.5}
    best = min(trials["trials"], key=lambda t: t["metrics"]["loss"])
    assert trials["best"] == best["name"]
    assert json.loads((local / "best/hyperparameters.json").read_text()) == best["parameters"]
    lines = (local / "code/trials.log").read_text().splitlines()
    assert len(lines) == 3
    first = trials["trials"][0]["parameters"]
    assert lines[0] == (
        f"--data=x --lr={first['lr']} --depth={first['depth']} --opt={first['opt']} "
        f"--examples={local}/data/gcs/root/run/examples"
    )
    _tune(local / "again")
    assert (local / "again/trials.json").read_text() == (local / "best/trials.json").read_text()


def test_locally_the_grid_runs_its_first_combinations(local: Path) -> None:
    experiment = copy.deepcopy(EXPERIMENT)
    experiment["spec"]["algorithm"] = {"algorithmName": "grid"}
    space = {
        "lr": {"type": "double", "min": 0.01, "max": 0.03, "step": 0.01},
        "depth": {"type": "int", "min": 2, "max": 8, "step": 2},
        "opt": {"type": "discrete", "values": ["sgd", "adam"]},
    }
    _tune(local / "best", {**CONFIG, "experiment": experiment, "searchSpace": space})
    trials = json.loads((local / "best/trials.json").read_text())["trials"]
    assert [t["parameters"] for t in trials] == [
        {"depth": 2, "lr": 0.01, "opt": "sgd"},
        {"depth": 2, "lr": 0.01, "opt": "adam"},
        {"depth": 2, "lr": 0.02, "opt": "sgd"},
    ]
    assert json.loads((local / "best/hyperparameters.json").read_text()) == {
        "depth": 2,
        "lr": 0.01,
        "opt": "sgd",
    }


@pytest.mark.parametrize("broken", ["exit", "silent"])
def test_locally_when_every_trial_fails_the_step_fails(
    local: Path, capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    experiment = copy.deepcopy(EXPERIMENT)
    [container] = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"]
    container["env"].append({"name": "BROKEN", "value": broken})
    message = _fails(local / "best", capsys, {**CONFIG, "experiment": experiment})
    how = {
        "exit": "p-tune-local-3 exited 2, printing nothing",
        "silent": "p-tune-local-3 exited 0 without a loss=VALUE line: accuracy=0.5",
    }[broken]
    assert (
        message
        == f"mlopsctl-stage tune-job: Experiment p-tune: every one of the 3 local trials failed; {how}"
    )
