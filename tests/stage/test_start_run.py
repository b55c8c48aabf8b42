"""``start-run`` against a fake KFP v2beta1 API server, through the real kfp-server-api client."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fake_bigquery
import fake_kfp_api
import pyarrow as pa
import pytest
from fake_kfp_api import FakeKfp

from mlopsctl_stage.cli import main

NAMESPACE = "team"
VERSION = "train-0123456789"


@pytest.fixture
def kfp() -> Iterator[FakeKfp]:
    yield from fake_kfp_api.serve()


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "token"
    path.write_text("projected-token\n")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(path))
    return "projected-token"


def config(kfp: FakeKfp, **extra: Any) -> str:
    return json.dumps(
        {
            "endpoint": kfp.url,
            "namespace": NAMESPACE,
            "pipeline": "train",
            "pipelineVersion": VERSION,
            "experiment": "train",
            "parameters": {"epochs": 3, "lr": 0.1},
            "serviceAccount": "pipeline-train",
            **extra,
        }
    )


def test_starts_a_run_of_the_named_version(
    kfp: FakeKfp, token: str, local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kfp.add_pipeline("train", NAMESPACE, ["train-old", VERSION])
    main(["start-run", "--config", config(kfp)])
    [run] = kfp.created_runs()
    version = kfp.versions[kfp.pipelines["train"]["pipeline_id"]][1]
    assert run["pipeline_version_reference"] == {
        "pipeline_id": version["pipeline_id"],
        "pipeline_version_id": version["pipeline_version_id"],
    }
    assert run["runtime_config"] == {"parameters": {"epochs": 3, "lr": 0.1}}
    assert run["service_account"] == "pipeline-train"
    [experiment] = kfp.experiments  # created, since it did not exist
    assert experiment["display_name"] == "train" and experiment["namespace"] == NAMESPACE
    assert run["experiment_id"] == experiment["experiment_id"]
    assert {c.authorization for c in kfp.calls} == {f"Bearer {token}"}
    assert f"Started run {kfp.runs[-1]['run_id']}" in capsys.readouterr().out


def test_reuses_the_experiment(kfp: FakeKfp, local_root: Path) -> None:
    kfp.add_pipeline("train", NAMESPACE, [VERSION])
    kfp.add_experiment("train", "other-namespace")
    existing = kfp.add_experiment("train", NAMESPACE)
    main(["start-run", "--config", config(kfp)])
    assert len(kfp.experiments) == 2
    assert kfp.created_runs()[0]["experiment_id"] == existing
    assert {c.authorization for c in kfp.calls} == {None}  # no token path: no header


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-pipeline", "pipeline 'train' in namespace 'team': KFP API at"),
        (
            "no-version",
            f"pipelineVersion ({VERSION}): pipeline 'train' in namespace 'team' has no such version",
        ),
        ("server-error", "500 database is down"),
    ],
)
def test_failures_are_one_line(
    kfp: FakeKfp, local_root: Path, capsys: pytest.CaptureFixture[str], setup: str, message: str
) -> None:
    if setup != "no-pipeline":
        kfp.add_pipeline("train", NAMESPACE, ["train-other"])
    if setup == "server-error":
        kfp.failures.append((500, "database is down"))
    with pytest.raises(SystemExit) as exit:
        main(["start-run", "--config", config(kfp)])
    assert exit.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage start-run: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert kfp.created_runs() == []


def test_missing_config_keys(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["start-run", "--config", json.dumps({"endpoint": "x:1", "namespace": "n"})])
    assert "--config: missing pipeline, pipelineVersion, experiment" in capsys.readouterr().err


def _touch(path: Path, when: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")
    os.utime(path, (when.timestamp(), when.timestamp()))


NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("last_run", "changed", "starts"),
    [
        (None, NOW - 5 * HOUR, True),  # no run yet
        (NOW - 2 * HOUR, NOW - HOUR, True),  # changed after the last run
        (NOW - HOUR, NOW - 2 * HOUR, False),  # nothing since the last run
        (NOW - HOUR, None, False),  # nothing there at all
    ],
)
@pytest.mark.parametrize("watched", ["gcs", "table", "dataset"])
def test_when_new_data(
    kfp: FakeKfp,
    local_root: Path,
    capsys: pytest.CaptureFixture[str],
    last_run: datetime | None,
    changed: datetime | None,
    starts: bool,
    watched: str,
) -> None:
    kfp.add_pipeline("train", NAMESPACE, [VERSION])
    experiment = kfp.add_experiment("train", NAMESPACE)
    kfp.add_experiment("other", NAMESPACE)
    if last_run is not None:
        kfp.add_run(experiment, last_run - 3 * HOUR)
        kfp.add_run(experiment, last_run)
    if watched == "gcs":
        condition: dict[str, Any] = {"gcs": "gs://landing/events/"}
        if changed is not None:
            _touch(local_root / "gcs/landing/events/day=1/part-0.csv", changed - HOUR)
            _touch(local_root / "gcs/landing/events/day=2/part-0.csv", changed)
        _touch(local_root / "gcs/landing/elsewhere.csv", NOW)  # outside the prefix
    elif watched == "table":
        condition = {"bigquery": {"table": "proj.raw.events"}}
        if changed is not None:
            _touch(local_root / "bigquery/proj.raw.events.jsonl", changed)
    else:
        condition = {"bigquery": {"dataset": "proj.raw"}}
        if changed is not None:
            _touch(local_root / "bigquery/proj.raw.events.jsonl", changed - HOUR)
            _touch(local_root / "bigquery/proj.raw.users.parquet", changed)
        _touch(local_root / "bigquery/proj.raw_archive.events.jsonl", NOW)  # another dataset
    main(["start-run", "--config", config(kfp, whenNewData=condition)])
    out = capsys.readouterr().out
    assert len(kfp.created_runs()) == int(starts)
    if starts:
        assert kfp.created_runs()[0]["experiment_id"] == experiment
        assert "Started run" in out
    else:
        assert "no run started" in out


def test_when_new_data_refuses_unknown_forms(
    kfp: FakeKfp, local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kfp.add_pipeline("train", NAMESPACE, [VERSION])
    with pytest.raises(SystemExit):
        main(["start-run", "--config", config(kfp, whenNewData={"s3": "s3://x/"})])
    assert "whenNewData: must be" in capsys.readouterr().err
    assert kfp.created_runs() == []


@pytest.mark.parametrize(("last_run", "starts"), [(NOW - 2 * HOUR, True), (NOW, False)])
def test_when_new_data_in_a_cloud_dataset(
    kfp: FakeKfp,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    last_run: datetime,
    starts: bool,
) -> None:
    monkeypatch.delenv("MLOPSCTL_STAGE_LOCAL", raising=False)
    kfp.add_pipeline("train", NAMESPACE, [VERSION])
    kfp.add_run(kfp.add_experiment("train", NAMESPACE), last_run)
    with fake_bigquery.serve() as bigquery:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery.url)
        empty = pa.table({"x": pa.array([], pa.int64())})
        bigquery.put("proj.raw.events", empty, modified=NOW - 3 * HOUR)
        bigquery.put("proj.raw.users", empty, modified=NOW - HOUR)
        bigquery.put("proj.raw_archive.events", empty, modified=NOW + HOUR)
        main(["start-run", "--config", config(kfp, whenNewData={"bigquery": {"dataset": "proj.raw"}})])
    assert len(kfp.created_runs()) == int(starts)
    out = capsys.readouterr().out
    assert ("New data in proj.raw: changed" in out) == starts
    assert ("No new data in proj.raw since the last run" in out) != starts
