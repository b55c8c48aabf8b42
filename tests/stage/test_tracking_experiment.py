"""The experiment a step logs to need not exist: the step creates it (and the metadata store when the
region has none), also when another step creates it at the same time; a TensorBoard may be named by
its display name. The real google-cloud-aiplatform REST clients against the fake Vertex AI API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import vertex_stage_fake
from vertex_stage_fake import Call, FakeVertex

from mlopsctl_stage.tracking import log_run

LOCATION = "projects/proj/locations/europe-west4"
STORE = f"{LOCATION}/metadataStores/default"
EXPERIMENT = f"{STORE}/contexts/demo-train-dev"
RUN = f"{EXPERIMENT}-r1"
METRICS = {"accuracy": 0.9}


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    """The fake, with the metadata store but no experiment yet."""
    for fake in vertex_stage_fake.serve():
        fake.stores.add(STORE)
        monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", fake.url)
        monkeypatch.setenv("MLOPSCTL_EXPERIMENT", EXPERIMENT)
        monkeypatch.delenv("MLOPSCTL_TENSORBOARD", raising=False)
        yield fake


def _log(capsys: pytest.CaptureFixture[str]) -> str:
    """Log METRICS to run r1; what the step printed on stderr."""
    log_run(METRICS, {"lr": 0.1}, run_id="r1")
    return capsys.readouterr().err


def _logged(vertex: FakeVertex) -> None:
    """The run is in the experiment, with the metrics."""
    assert vertex.children == {EXPERIMENT: [RUN]}
    assert vertex.contexts[RUN]["metadata"] == {
        "_params": {"lr": 0.1},
        "_metrics": METRICS,
        "_state": "COMPLETE",
    }


def test_a_missing_experiment_is_created_before_its_run(
    vertex: FakeVertex, capsys: pytest.CaptureFixture[str]
) -> None:
    assert f"to experiment run {RUN}" in _log(capsys)
    experiment = vertex.contexts[EXPERIMENT]
    assert {k: experiment[k] for k in ("displayName", "schemaTitle", "schemaVersion", "metadata")} == {
        "displayName": "demo-train-dev",
        "schemaTitle": "system.Experiment",
        "schemaVersion": "0.0.1",
        "metadata": {"experiment_deleted": False},
    }
    _logged(vertex)
    created = [c.query["contextId"] for c in vertex.calls if c.path.endswith("/contexts")]
    assert created == ["demo-train-dev", "demo-train-dev-r1"]  # the experiment first, then the run


def test_logging_again_keeps_the_experiment(vertex: FakeVertex, capsys: pytest.CaptureFixture[str]) -> None:
    _log(capsys)
    vertex.contexts[EXPERIMENT]["description"] = "kept"
    assert "warning" not in _log(capsys)
    assert vertex.contexts[EXPERIMENT]["description"] == "kept"
    _logged(vertex)


def _meanwhile(vertex: FakeVertex, fragment: str, create: str) -> None:
    """Another step creates ``create`` just before the request whose path ends with ``fragment``."""

    def before(call: Call) -> None:
        if call.method == "POST" and call.path.endswith(fragment):
            vertex.add_context(EXPERIMENT) if create == "experiment" else vertex.stores.add(STORE)
            vertex.before = None

    vertex.before = before


@pytest.mark.parametrize("created", ["experiment", "store"])
def test_a_concurrent_creator_is_no_failure(
    vertex: FakeVertex, capsys: pytest.CaptureFixture[str], created: str
) -> None:
    """The step's create is answered 409 ALREADY_EXISTS: another step created it first."""
    if created == "store":
        vertex.stores.clear()
    _meanwhile(vertex, "/contexts" if created == "experiment" else "/metadataStores", created)
    assert "warning" not in _log(capsys)
    _logged(vertex)


def test_a_region_without_a_metadata_store_gets_the_default_one(
    vertex: FakeVertex, capsys: pytest.CaptureFixture[str]
) -> None:
    vertex.stores.clear()
    assert "warning" not in _log(capsys)
    [store] = [c for c in vertex.calls if c.path.endswith("/metadataStores")]
    assert (store.path, store.query["metadataStoreId"]) == (f"/v1/{LOCATION}/metadataStores", "default")
    assert vertex.stores == {STORE}
    _logged(vertex)


@pytest.mark.parametrize(
    ("board", "written"),
    [
        ("demo-dev-europe-west4", f"{LOCATION}/tensorboards/42"),  # its display name, looked up
        ("7", f"{LOCATION}/tensorboards/7"),  # its id: no look-up
    ],
)
def test_a_tensorboard_by_id_or_display_name(
    vertex: FakeVertex,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    board: str,
    written: str,
) -> None:
    vertex.boards = {
        f"{LOCATION}/tensorboards/41": "other",
        f"{LOCATION}/tensorboards/42": "demo-dev-europe-west4",
    }
    monkeypatch.setenv("MLOPSCTL_TENSORBOARD", f"{LOCATION}/tensorboards/{board}")
    assert "warning" not in _log(capsys)
    assert {p["run"] for p in vertex.points} == {f"{written}/experiments/demo-train-dev/runs/r1"}
    looked_up = [
        c.query["filter"] for c in vertex.calls if c.method == "GET" and c.path.endswith("/tensorboards")
    ]
    assert looked_up == (['display_name="demo-dev-europe-west4"'] if board != "7" else [])


def test_an_unknown_tensorboard_only_warns(
    vertex: FakeVertex, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLOPSCTL_TENSORBOARD", f"{LOCATION}/tensorboards/missing")
    err = _log(capsys)
    assert f"warning: metrics not logged to {EXPERIMENT}: no TensorBoard named 'missing' in {LOCATION}" in err
    _logged(vertex)  # the experiment run was logged before
