"""Steps the compiler cannot place as declared: on multi-host TPU slices, in loops that would create
one object many times, and images built from two folders; each with its exact diagnostic."""

from __future__ import annotations

import pathlib

import pytest
from helpers import Diagnostics, Edits, diagnostics, edited

from mlopsctl.config import catalog
from mlopsctl.config.models.tuning import MAX_WORKERS

BASE = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project: {name: demo, owner: ml@acme.example, stageImage: stages:1}
environments:
  dev: {gcpProject: acme-demo-dev, regions: [us-central1]}
accelerators:
  slice: {type: tpu, version: v5e, topology: 2x4, machineType: ct5lp-hightpu-4t}
pipelines:
  p:
    steps:
      prepare:
        image: prep:1
        command: [python, prep.py]
        code: prep
        outputs: {data: dataset}
      fit:
        kind: train
        image: trainer:1
        command: [python, train.py]
        code: trainer
        inputs: {data: prepare.data}
        outputs: {model: model}
        distributed: {framework: pytorch, workers: 2}
        resources: {nodePool: slice, accelerators: 4}
"""
"""A valid project: a distributed train step with one worker per host of its two-host slice."""
SLICE = "node pool 'slice', a 2x4 TPU v5e slice of 2 hosts (ct5lp-hightpu-4t, 4 chips each)"
SINGLE_HOST_EXAMPLE = (
    "a TPU pool whose slice one host carries, e.g. topology 2x4, machineType ct5lp-hightpu-8t"
)
TUNE = """\
      search:
        kind: tune
        image: trainer:1
        command: [python, trial.py]
        inputs: {data: prepare.data}
        outputs: {best: artifact}
        tuning:
          searchSpace: {lr: {type: double, min: 0.1, max: 1}}
          objective: {metric: auc_pr}
"""
SCORE = "pipelines:\n  score:\n    steps:\n      run: {{image: trainer:1, command: [x], code: {code}}}\n"
"""A pipeline declared first, whose step builds the image of step 'fit' from ``code``."""

CASES: dict[str, tuple[Edits, Diagnostics]] = {
    "workers are not the hosts": (
        [("workers: 2}", "workers: 3}")],
        [
            (
                f"23:52: error E403: train step 'fit' of pipeline 'p' runs 3 workers on {SLICE}",
                "set workers to 2: one pod per host of the slice",
            )
        ],
    ),
    "chips per worker are not the host's": (
        [("accelerators: 4}", "accelerators: 2}")],
        [
            (
                "24:52: error E403: train step 'fit' of pipeline 'p' asks for 2 TPU chips per worker on "
                f"{SLICE}",
                "set accelerators to 4, or leave it out: each worker takes every chip of its host, as the "
                "slice's chips work only together",
            )
        ],
    ),
    "a slice scaled past its hosts": (
        [("ct5lp-hightpu-4t}", "ct5lp-hightpu-4t, autoscaling: {maxNodes: 8}}")],
        [
            (
                "7:106: error E403: node pool 'slice' scales to 8 nodes, but its 2x4 TPU v5e slice is "
                "2 hosts "
                "that GKE adds and removes only together",
                "set maxNodes to 2, or leave it out; for more slices, declare another pool",
            )
        ],
    ),
    "one pod on a slice": (
        [("        distributed: {framework: pytorch, workers: 2}\n", "")],
        [
            (
                f"23:31: error E403: train step 'fit' of pipeline 'p' runs as one pod, "
                f"which cannot use {SLICE}",
                "add 'distributed' with workers: 2 (one pod per host), "
                "or place the step on a single-host pool",
            )
        ],
    ),
    "tune on a slice": (
        [
            ("pipelines:\n  p:\n", "pipelines:\n  p:\n    nodePool: slice\n"),
            ("      fit:\n", TUNE + "      fit:\n"),
        ],
        [
            (
                f"10:15: error E403: tune step 'search' of pipeline 'p' runs each trial as one pod, "
                f"which cannot use {SLICE}",
                f"place the trials on {SINGLE_HOST_EXAMPLE}",
            )
        ],
    ),
    "tune on a slice beside a single-host pool": (
        [
            ("accelerators:\n", "accelerators:\n  host: {type: tpu, version: v5e, topology: 2x2}\n"),
            (
                "        code: prep\n",
                "        code: prep\n        resources: {nodePool: host, accelerators: 4}\n",
            ),
            (
                "      fit:\n",
                TUNE.replace("        tuning:\n", "        resources: {nodePool: slice}\n        tuning:\n")
                + "      fit:\n",
            ),
        ],
        [
            (
                f"24:31: error E403: tune step 'search' of pipeline 'p' runs each trial as one pod, "
                f"which cannot use {SLICE}",
                "place the trials on a single-host pool: host",
            )
        ],
    ),
    "container asks for chips of a slice": (
        [
            (
                "        code: prep\n",
                "        code: prep\n        resources: {nodePool: slice, accelerators: 1}\n",
            )
        ],
        [
            (
                f"15:31: error E403: container step 'prepare' of pipeline 'p' runs as one pod, "
                f"which cannot use the TPU chips of {SLICE}",
                f"place the step on {SINGLE_HOST_EXAMPLE}",
            )
        ],
    ),
    "distributed train in a loop": (
        [("        distributed:", "        parallelFor: {items: [a, b]}\n        distributed:")],
        [
            (
                "23:22: error E309: train step 'fit' of pipeline 'p' cannot run in a parallelFor loop: "
                "every iteration would create the same training job",
                "loop over the items in the training code, or declare one step per item",
            )
        ],
    ),
    "tune in a loop": (
        [
            (
                "      fit:\n",
                TUNE.replace("        tuning:\n", "        parallelFor: {items: [1, 2]}\n        tuning:\n")
                + "      fit:\n",
            )
        ],
        [
            (
                "22:22: error E309: tune step 'search' of pipeline 'p' cannot run in a parallelFor loop: "
                "every iteration would create the same Katib Experiment",
                "search over the items: add them to searchSpace as a categorical parameter",
            )
        ],
    ),
    "one image, two folders": (
        [("image: prep:1", "image: trainer:1")],
        [
            (
                "20:15: error E310: step 'fit' of pipeline 'p' builds image 'trainer:1' from code folder "
                "'trainer', but step 'prepare' of pipeline 'p' builds it from 'prep'",
                "build 'trainer:1' from one folder, or give this step an image of its own",
            )
        ],
    ),
    "one image, two folders, two pipelines": (
        [("pipelines:\n", SCORE.format(code="./prep/"))],
        [
            (
                "23:15: error E310: step 'fit' of pipeline 'p' builds image 'trainer:1' from code folder "
                "'trainer', but step 'run' of pipeline 'score' builds it from './prep/'",
                "build 'trainer:1' from one folder, or give this step an image of its own",
            )
        ],
    ),
    "one image, one folder written two ways": ([("pipelines:\n", SCORE.format(code="./trainer/"))], []),
}


def _diagnostics(tmp_path: pathlib.Path, text: str) -> Diagnostics:
    return diagnostics(tmp_path, text, ("prep", "trainer"))


def test_the_base_is_valid(tmp_path: pathlib.Path) -> None:
    assert _diagnostics(tmp_path, BASE) == []


@pytest.mark.parametrize("name", list(CASES))
def test_mistake_gets_its_diagnostic(tmp_path: pathlib.Path, name: str) -> None:
    edits, expected = CASES[name]
    assert _diagnostics(tmp_path, edited(BASE, edits)) == expected


@pytest.mark.parametrize(
    ("pool", "accelerators"),
    [
        ("{type: tpu, version: v5e, topology: 2x4}", 8),  # one ct5lp-hightpu-8t host
        ("{type: gpu, accelerator: nvidia-l4, count: 1}", 1),
        ("{type: cpu}", 0),
    ],
)
def test_one_pod_steps_may_use_single_host_pools(
    tmp_path: pathlib.Path, pool: str, accelerators: int
) -> None:
    text = BASE.replace("{type: tpu, version: v5e, topology: 2x4, machineType: ct5lp-hightpu-4t}", pool)
    text = text.replace("        distributed: {framework: pytorch, workers: 2}\n", "")
    text = text.replace("accelerators: 4}", f"accelerators: {accelerators}}}")
    text = text.replace(
        "      fit:\n",
        TUNE.replace("        tuning:\n", "        resources: {nodePool: slice}\n        tuning:\n")
        + "      fit:\n",
    )
    assert _diagnostics(tmp_path, text) == []


def test_steps_without_chips_may_inherit_a_slice(tmp_path: pathlib.Path) -> None:
    """The pipeline's pool is a slice; the data step asks for no chips, so it may run on a host."""
    text = BASE.replace("pipelines:\n  p:\n", "pipelines:\n  p:\n    nodePool: slice\n")
    assert _diagnostics(tmp_path, text) == []


def test_every_slice_in_the_catalog_can_be_given_its_workers() -> None:
    hosts = [
        slice_.hosts
        for version, tpu in catalog.catalog().tpus.items()
        for topology, shape in tpu.topologies.items()
        for machine_type in shape.machine_types
        if (slice_ := catalog.tpu_machine_type(version, topology, machine_type)) is not None
    ]
    assert max(hosts) <= MAX_WORKERS
