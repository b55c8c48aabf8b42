"""``train-job``: in the cluster against a fake API server with the real kubernetes client; locally as a
process running a tiny training script."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_kube import NAMESPACE, POD, POD_UID, FakeKube, kube, pod

from mlopsctl_stage.cli import main

__all__ = ["kube"]

MOUNT = {"name": "", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "volumeAttributes": {}}}


def _pod(container: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "train"}},
        "spec": {
            "restartPolicy": "OnFailure",
            "containers": [
                {
                    "name": container,
                    "image": "trainer:1",
                    "command": ["python", "train.py"],
                    "args": ["--epochs=3"],
                }
            ],
        },
    }


def _framework_job(kind: str, field: str, leader: str, container: str) -> dict[str, Any]:
    replicas = {role: {"replicas": 1, "template": _pod(container)} for role in (leader, "Worker")}
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": kind,
        "metadata": {"name": "p-train", "namespace": NAMESPACE, "labels": {"app": "train"}},
        "spec": {"runPolicy": {"backoffLimit": 1}, field: replicas},
    }


PYTORCH = _framework_job("PyTorchJob", "pytorchReplicaSpecs", "Master", "pytorch")
TFJOB = _framework_job("TFJob", "tfReplicaSpecs", "Chief", "tensorflow")
JOBSET = {
    "apiVersion": "jobset.x-k8s.io/v1alpha2",
    "kind": "JobSet",
    "metadata": {"name": "p-train", "namespace": NAMESPACE},
    "spec": {
        "replicatedJobs": [
            {
                "name": "slice",
                "replicas": 1,
                "template": {"spec": {"parallelism": 2, "template": _pod("training")}},
            }
        ]
    },
}
CASES = [
    (PYTORCH, "/apis/kubeflow.org/v1/namespaces/demo/pytorchjobs", "Succeeded"),
    (TFJOB, "/apis/kubeflow.org/v1/namespaces/demo/tfjobs", "Succeeded"),
    (JOBSET, "/apis/jobset.x-k8s.io/v1alpha2/namespaces/demo/jobsets", "Completed"),
]
ROLES = ["--input", "examples", "gs://root/run/examples", "--input", "epochs", "5"]
ROLES += ["--output", "model", "gs://models-bucket/run/model"]


def _condition(kind: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"conditions": [{"type": kind, "status": "True", "reason": reason, "message": message}]}


def _train(config: dict[str, Any], roles: list[str] = ROLES) -> None:
    main(["train-job", "--config", json.dumps(config), *roles])


def _fails(config: dict[str, Any], capsys: pytest.CaptureFixture[str], roles: list[str] = ROLES) -> str:
    with pytest.raises(SystemExit) as exit_info:
        _train(config, roles)
    assert exit_info.value.code == 1
    return capsys.readouterr().err.strip()


def _templates(job: dict[str, Any]) -> list[dict[str, Any]]:
    spec = job["spec"]
    if "replicatedJobs" in spec:
        return [r["template"]["spec"]["template"] for r in spec["replicatedJobs"]]
    [replicas] = [v for k, v in spec.items() if k.endswith("ReplicaSpecs")]
    return [r["template"] for r in replicas.values()]


@pytest.mark.parametrize(("job", "collection", "succeeded"), CASES)
def test_the_job_is_created_for_the_run_owned_by_the_launcher_and_awaited(
    kube: FakeKube, capsys: pytest.CaptureFixture[str], job: dict[str, Any], collection: str, succeeded: str
) -> None:
    kube.script = [_condition("Created"), _condition("Running"), _condition(succeeded, "Done")]
    _train({"job": job})
    assert kube.calls()[:2] == [f"GET /api/v1/namespaces/demo/pods/{POD}", f"POST {collection}"]
    [created] = kube.created()
    assert created["metadata"]["name"] == "p-train-0123abcd"
    assert created["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": POD, "uid": POD_UID}
    ]
    expected = copy.deepcopy(job)
    for template in _templates(expected):
        template["metadata"]["annotations"] = {"gke-gcsfuse/volumes": "true"}
        template["spec"]["volumes"] = [
            {"name": v, "csi": {"driver": "gcsfuse.csi.storage.gke.io", "volumeAttributes": a}}
            for v, a in zip(
                [m["name"] for m in _templates(created)[0]["spec"]["containers"][0]["volumeMounts"]],
                [
                    {
                        "bucketName": "models-bucket",
                        "mountOptions": "implicit-dirs,file-mode=666,dir-mode=777",
                    },
                    {"bucketName": "root", "mountOptions": "implicit-dirs,file-mode=666,dir-mode=777"},
                ],
                strict=True,
            )
        ]
        [container] = template["spec"]["containers"]
        container["args"] += [
            "--examples=/gcs/root/run/examples",
            "--epochs=5",
            "--model=/gcs/models-bucket/run/model",
        ]
        container["volumeMounts"] = [
            {"name": v["name"], "mountPath": f"/gcs/{v['csi']['volumeAttributes']['bucketName']}"}
            for v in template["spec"]["volumes"]
        ]
    expected["metadata"] = created["metadata"]
    assert created == expected
    assert len({v["name"] for v in _templates(created)[0]["spec"]["volumes"]}) == 2
    out = capsys.readouterr().out
    kind = job["kind"]
    assert f"{kind} p-train-0123abcd: Running" in out
    assert f"{kind} p-train-0123abcd: {succeeded} (Done)" in out


def test_a_failed_job_fails_the_step(kube: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    kube.script = [
        _condition("Running"),
        _condition("Failed", "BackoffLimitExceeded", "master exited with 2"),
    ]
    message = _fails({"job": PYTORCH}, capsys)
    assert message == "mlopsctl-stage train-job: PyTorchJob p-train-0123abcd: failed: master exited with 2"


def test_a_job_that_outlives_its_timeout_is_deleted(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    kube.script = [_condition("Running")]
    message = _fails({"job": JOBSET, "timeoutSeconds": 0.3}, capsys)
    assert message.endswith("JobSet p-train-0123abcd: did not finish within 0.3 seconds; deleted it")
    assert (
        kube.calls()[-1] == "DELETE /apis/jobset.x-k8s.io/v1alpha2/namespaces/demo/jobsets/p-train-0123abcd"
    )
    assert kube.objects == {}


def test_a_job_left_by_an_earlier_attempt_is_replaced(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    path = "/apis/kubeflow.org/v1/namespaces/demo/pytorchjobs/p-train-0123abcd"
    kube.put(path, {**PYTORCH, "metadata": {**PYTORCH["metadata"], "name": "p-train-0123abcd"}})
    kube.script = [_condition("Succeeded")]
    _train({"job": PYTORCH})
    assert [c for c in kube.calls() if not c.startswith("GET")] == [
        "POST /apis/kubeflow.org/v1/namespaces/demo/pytorchjobs",
        f"DELETE {path}",
        "POST /apis/kubeflow.org/v1/namespaces/demo/pytorchjobs",
    ]
    assert kube.objects[path]["metadata"]["ownerReferences"][0]["uid"] == POD_UID
    assert "left by an earlier attempt of this step: replacing it" in capsys.readouterr().out


def test_without_a_run_label_the_pod_uid_names_the_job(kube: FakeKube) -> None:
    kube.pods[POD] = pod({})
    kube.script = [_condition("Succeeded")]
    _train({"job": TFJOB}, [])
    assert kube.created()[0]["metadata"]["name"] == "p-train-5f0c2a8e"
    assert "volumes" not in kube.created()[0]["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]


@pytest.mark.parametrize(
    ("refusal", "fragment"),
    [
        (
            ("POST /apis/kubeflow.org/v1/namespaces/demo/pytorchjobs", 403, "pytorchjobs is forbidden"),
            "PyTorchJob p-train-0123abcd: cannot create it: HTTP 403; the pipeline's Kubernetes account "
            "is not allowed to; pytorchjobs is forbidden",
        ),
        (
            (f"GET /api/v1/namespaces/demo/pods/{POD}", 403, "pods is forbidden"),
            f"launcher pod ({POD}): HTTP 403",
        ),
    ],
)
def test_what_the_api_server_refuses_is_reported_on_one_line(
    kube: FakeKube, capsys: pytest.CaptureFixture[str], refusal: tuple[str, int, str], fragment: str
) -> None:
    request, code, message = refusal
    kube.refusals[request] = (code, message)
    assert fragment in _fails({"job": PYTORCH}, capsys)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({}, "--config (job): must be a Kubernetes object with metadata.name"),
        ({"job": {**PYTORCH, "kind": "MPIJob"}}, "'MPIJob' is not one of"),
        ({"job": PYTORCH, "timeoutSeconds": -1}, "timeoutSeconds): must be a positive number"),
    ],
)
def test_a_bad_config_is_refused_before_anything_is_created(
    kube: FakeKube, capsys: pytest.CaptureFixture[str], config: dict[str, Any], fragment: str
) -> None:
    assert fragment in _fails(config, capsys)
    assert kube.requests == []


TRAIN_SCRIPT = """\
import argparse, json, os, pathlib, sys
parser = argparse.ArgumentParser()
for flag in ("--epochs", "--examples", "--model"):
    parser.add_argument(flag)
args = parser.parse_args()
rows = json.loads(pathlib.Path(args.examples, "data.json").read_text())
pathlib.Path(args.model).mkdir(parents=True)
pathlib.Path(args.model, "model.json").write_text(json.dumps({"rows": len(rows), "epochs": args.epochs}))
with open("runs.log", "a") as log:
    log.write(f"{sys.executable} {os.environ['MODE']}\\n")
print("trained", flush=True)
sys.exit(int(os.environ.get("EXIT", "0")))
"""


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local run: settings with the trainer's code folder, and an examples input under ``$ROOT/gcs``."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN_SCRIPT)
    settings = {"root": str(tmp_path / "data"), "code": {"trainer:1": str(code)}, "trials": 2}
    (tmp_path / "local.json").write_text(json.dumps(settings))
    monkeypatch.setenv("MLOPSCTL_STAGE_LOCAL", str(tmp_path / "local.json"))
    examples = tmp_path / "data/gcs/root/run/examples"
    examples.mkdir(parents=True)
    (examples / "data.json").write_text("[1, 2, 3]")
    return tmp_path


def _local_job(job: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    job = copy.deepcopy(job)
    for template in _templates(job):
        template["spec"]["containers"][0]["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return job


@pytest.mark.parametrize(("job", "collection", "succeeded"), CASES)
def test_locally_the_leader_runs_once_as_a_process(
    local: Path, capsys: pytest.CaptureFixture[str], job: dict[str, Any], collection: str, succeeded: str
) -> None:
    model = local / "out/model"
    roles = [
        "--input",
        "examples",
        "gs://root/run/examples",
        "--input",
        "epochs",
        "5",
        "--output",
        "model",
        str(model),
    ]
    _train({"job": _local_job(job, {"MODE": "local"})}, roles)
    assert json.loads((model / "model.json").read_text()) == {"rows": 3, "epochs": "5"}
    assert (local / "code/runs.log").read_text() == f"{sys.executable} local\n"
    assert "trained" in capsys.readouterr().out


def test_locally_a_failing_command_fails_the_step(local: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roles = ["--input", "examples", "gs://root/run/examples", "--output", "model", str(local / "m")]
    message = _fails({"job": _local_job(PYTORCH, {"MODE": "local", "EXIT": "3"})}, capsys, roles)
    assert message == "mlopsctl-stage train-job: PyTorchJob p-train: the training command exited with code 3"


def test_locally_an_image_without_a_code_folder_is_reported(
    local: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = copy.deepcopy(PYTORCH)
    for template in _templates(job):
        template["spec"]["containers"][0]["image"] = "elsewhere:2"
    message = _fails({"job": job}, capsys, [])
    assert message.startswith("mlopsctl-stage train-job: image (elsewhere:2): no local code folder for it")
