"""Distributed training compiles to framework jobs and JobSets, placed on the step's pool."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, write
from training_cases import (
    FRAUD,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    SPACES,
    STAGES,
    TUNE,
    _config,
    _container,
    _launcher,
    launcher,
)
from upstream_schemas import UpstreamSchemas

from mlopsctl.config.target import Target

DISTRIBUTED = """\
pipelines:
  p:
    steps:
      train:
        kind: train
        image: trainer:1
        command: [python, -m, train]
        args: [--epochs=3]
        env: {{LOG_LEVEL: debug}}
        secrets: {{HF_TOKEN: projects/acme/secrets/hf-token}}
        distributed: {{framework: {framework}, workers: {workers}}}
        resources: {{nodePool: {pool}, accelerators: {count}, memory: 12Gi}}
        timeout: 3h
        retries: 2
"""


@pytest.mark.parametrize(
    ("framework", "kind", "specs", "leader", "container"),
    [
        ("pytorch", "PyTorchJob", "pytorchReplicaSpecs", "Master", "pytorch"),
        ("tensorflow", "TFJob", "tfReplicaSpecs", "Chief", "tensorflow"),
    ],
)
def test_distributed_training_compiles_to_the_framework_job(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    framework: str,
    kind: str,
    specs: str,
    leader: str,
    container: str,
) -> None:
    config = _launcher(tmp_path, DISTRIBUTED.format(framework=framework, workers=4, pool="gpu", count=1))
    job = config["job"]
    assert config["timeoutSeconds"] == 10800
    assert upstream_schemas.validate(job) == []
    assert (job["apiVersion"], job["kind"], job["metadata"]["name"]) == ("kubeflow.org/v1", kind, "p-train")
    assert job["spec"]["runPolicy"] == {
        "cleanPodPolicy": "Running",
        "backoffLimit": 2,
        "activeDeadlineSeconds": 10800,
        "ttlSecondsAfterFinished": 604800,
    }
    replicas = job["spec"][specs]
    assert {k: (v["replicas"], v["restartPolicy"]) for k, v in replicas.items()} == {
        leader: (1, "OnFailure"),
        "Worker": (3, "OnFailure"),
    }
    pod = replicas["Worker"]["template"]
    assert pod == replicas[leader]["template"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert pod["spec"]["serviceAccountName"] == "pipeline-p-dev-usc1"
    assert pod["spec"]["securityContext"] == RESTRICTED_POD
    main = _container(pod)
    secret = main["env"][1]["valueFrom"]["secretKeyRef"]["name"]
    assert secret.startswith("hf-token-")
    assert main == {
        "name": container,
        "image": "trainer:1",
        "command": ["python", "-m", "train"],
        "args": ["--epochs=3"],
        "env": [
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "value"}}},
        ],
        "resources": {
            "requests": {"memory": "12Gi"},
            "limits": {"memory": "12Gi", "nvidia.com/gpu": "1"},
        },
        "securityContext": RESTRICTED_CONTAINER,
    }


def test_a_single_worker_is_the_master_alone(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    job = _launcher(tmp_path, DISTRIBUTED.format(framework="pytorch", workers=1, pool="cpu", count=0))["job"]
    assert upstream_schemas.validate(job) == []
    assert list(job["spec"]["pytorchReplicaSpecs"]) == ["Master"]
    spec = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "cpu"}
    assert "tolerations" not in spec
    assert spec["containers"][0]["resources"]["limits"] == {"memory": "12Gi"}


TPU_HOST = {
    "cloud.google.com/gke-nodepool": "tpu-host",
    "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
    "cloud.google.com/gke-tpu-topology": "2x4",
}


@pytest.mark.parametrize(
    ("pool", "count", "selector", "tolerations", "limit"),
    [
        (
            "gpu",
            1,
            {"cloud.google.com/gke-nodepool": "gpu"},
            [("nvidia.com/gpu", "Exists", None), ("cloud.google.com/gke-spot", "Equal", "true")],
            ("nvidia.com/gpu", "1"),
        ),
        ("tpu-host", 8, TPU_HOST, [("google.com/tpu", "Exists", None)], ("google.com/tpu", "8")),
    ],
)
def test_replicas_and_trials_are_placed_on_the_step_pool(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    pool: str,
    count: int,
    selector: dict[str, str],
    tolerations: list[tuple[str, str, str | None]],
    limit: tuple[str, str],
) -> None:
    text = DISTRIBUTED.format(framework="tensorflow", workers=2, pool=pool, count=count)
    job = _launcher(tmp_path, text)["job"]
    assert upstream_schemas.validate(job) == []
    trials = TUNE.format(algorithm="random", max_trials=4, parallel=2, extra="", space=SPACES["mixed"])
    trials = trials.replace('cpu: "2"', f"nodePool: {pool}, accelerators: {count}")
    experiment = _launcher(tmp_path, trials, "tune")["experiment"]
    for spec in (
        job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"],
        experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"],
    ):
        assert spec["nodeSelector"] == selector
        assert [(t["key"], t["operator"], t.get("value")) for t in spec["tolerations"]] == tolerations
        assert {t["effect"] for t in spec["tolerations"]} == {"NoSchedule"}
        assert spec["containers"][0]["resources"]["limits"][limit[0]] == limit[1]


def test_fraud_trains_on_its_two_host_slice_with_a_jobset(upstream_schemas: UpstreamSchemas) -> None:
    jobset = launcher(FRAUD, "train", "train", Target("prod", "europe-west4"))["job"]
    assert upstream_schemas.validate(jobset) == []
    assert (jobset["apiVersion"], jobset["kind"]) == ("jobset.x-k8s.io/v1alpha2", "JobSet")
    assert jobset["metadata"]["name"] == "train-train"
    assert jobset["metadata"]["annotations"] == {
        "alpha.jobset.sigs.k8s.io/exclusive-topology": "cloud.google.com/gke-nodepool"
    }
    spec = jobset["spec"]
    [replicated] = spec.pop("replicatedJobs")
    assert spec == {
        "failurePolicy": {"maxRestarts": 1},
        "network": {"enableDNSHostnames": True},
        "ttlSecondsAfterFinished": 604800,
    }
    assert (replicated["name"], replicated["replicas"]) == ("slice", 1)
    job = replicated["template"]["spec"]
    pod = job.pop("template")
    assert job == {
        "parallelism": 2,
        "completions": 2,
        "completionMode": "Indexed",
        "backoffLimit": 0,
        "activeDeadlineSeconds": 4 * 3600,
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["nodeSelector"] == {
        "cloud.google.com/gke-nodepool": "tpu-v5e",
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "2x4",
    }
    assert pod["spec"]["tolerations"] == [
        {"key": "google.com/tpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    main = _container(pod)
    assert (main["name"], main["image"]) == (
        "training",
        "us-docker.pkg.dev/acme-risk/fraud/trainer-xla:3.1.0",
    )
    assert (main["command"], main["args"]) == (["python", "train.py"], [])
    assert main["resources"] == {
        "requests": {"memory": "64Gi"},
        "limits": {"memory": "64Gi", "google.com/tpu": "4"},
    }


SLICE = """\
accelerators:
  slice: {{type: tpu, version: {version}, topology: {topology}, machineType: {machine}}}
pipelines:
  p:
    steps:
      {step}:
        kind: train
        image: trainer:1
        command: [python, train.py]
        distributed: {{framework: {framework}, workers: {hosts}}}
        resources: {{nodePool: slice, accelerators: {chips}}}
"""


@pytest.mark.parametrize(
    ("version", "topology", "machine", "hosts", "chips", "label"),
    [
        ("v5e", "4x8", "ct5lp-hightpu-4t", 8, 4, "tpu-v5-lite-podslice"),
        ("v5p", "2x2x2", "ct5p-hightpu-4t", 2, 4, "tpu-v5p-slice"),
        ("v6e", "4x4", "ct6e-standard-4t", 4, 4, "tpu-v6e-slice"),
        ("v5p", "16x16x24", "ct5p-hightpu-4t", 1536, 4, "tpu-v5p-slice"),
    ],
)
@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
@pytest.mark.parametrize("step", ["train", "train-on-the-biggest-slice-we-have"])
def test_a_multi_host_slice_runs_one_pod_per_host(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    version: str,
    topology: str,
    machine: str,
    hosts: int,
    chips: int,
    label: str,
    framework: str,
    step: str,
) -> None:
    text = SLICE.format(
        version=version,
        topology=topology,
        machine=machine,
        chips=chips,
        hosts=hosts,
        framework=framework,
        step=step,
    )
    path = write(tmp_path, MINIMAL.replace("project:\n  name: demo\n", STAGES) + text)
    jobset = launcher(path, "p", step)["job"]
    assert upstream_schemas.validate(jobset) == []
    [replicated] = jobset["spec"]["replicatedJobs"]
    job = replicated["template"]["spec"]
    assert (job["parallelism"], job["completions"], job["backoffLimit"]) == (hosts, hosts, 0)
    pod = job["template"]["spec"]
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-accelerator"] == label
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-topology"] == topology
    assert pod["containers"][0]["resources"]["limits"] == {"google.com/tpu": str(chips)}
    # The last pod's hostname, with the launcher's run suffix, is still a DNS label.
    hostname = f"{jobset['metadata']['name']}-0123abcd-{replicated['name']}-0-{hosts - 1}"
    assert len(hostname) <= 63
    assert jobset["metadata"]["name"].startswith(f"p-{step}"[:20])


def test_a_long_pipeline_and_step_name_is_shortened_to_fit_the_workers_services(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    """The training operator names a Service ``<job>-worker-<index>`` per worker: the job's name, run
    suffix included, is shortened to fit, and the config is valid as written."""
    pipeline, step = "nightly-retraining-of-the-fraud-detector", "train-distributed-model"
    text = DISTRIBUTED.format(framework="pytorch", workers=4, pool="gpu", count=1)
    text = text.replace("  p:\n", f"  {pipeline}:\n").replace("      train:\n", f"      {step}:\n")
    job = launcher(write(tmp_path, _config(text)), pipeline, step)["job"]
    name = job["metadata"]["name"]
    assert len(name) == 52 - 9 and name.startswith("nightly-retraining-of-the-fraud-dete-")
    assert len(f"{name}-abcdefgh-worker-3") <= 63
    assert upstream_schemas.validate(job) == []
