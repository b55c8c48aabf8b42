"""Local runs of ingest steps reading ``data.external`` sources, from sample data filed under the
source's key: ``sample-data/external/KEY/PATH`` for a ``gs://`` source of files, and
``sample-data/external/KEY.jsonl|csv|parquet`` for a ``bq://`` table of any project."""

from __future__ import annotations

import json
import pathlib
import random

import pytest
from api_helpers import pipeline_run, refusal, run_locally, statuses
from helpers import write
from run_projects import HEAD, jsonl, project

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.run.data import stage_data
from mlopsctl.run.errors import RunError

PROJECT = (
    HEAD
    + """\
data:
  external:
    partner: {uri: "gs://partner-exports/housing/", format: CSV}
    shared: {uri: "bq://acme-shared-data.public_sets.housing"}
pipelines:
  from-files:
    steps:
      ingest:
        kind: ingest
        source: {external: partner}
        label: price
        outputs: {examples: dataset}
      statistics:
        kind: statistics
        inputs: {examples: ingest.examples}
        outputs: {statistics: artifact}
  from-table:
    steps:
      ingest:
        kind: ingest
        source: {external: shared}
        label: price
        outputs: {examples: dataset}
      statistics:
        kind: statistics
        inputs: {examples: ingest.examples}
        outputs: {statistics: artifact}
"""
)
SHARED_TABLE = "acme-shared-data.public_sets.housing"


def _rows(seed: int, count: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {"rooms": rng.randint(1, 6), "city": rng.choice(["oslo", "bergen"]), "price": rng.uniform(1, 9)}
        for _ in range(count)
    ]


def _csv(rows: list[dict[str, object]]) -> str:
    header = ",".join(rows[0])
    return header + "\n" + "".join(",".join(str(v) for v in row.values()) + "\n" for row in rows)


def _metadata(examples: object) -> dict[str, object]:
    assert isinstance(examples, str)
    found: dict[str, object] = json.loads((pathlib.Path(examples) / "metadata.json").read_text())
    return found


def test_an_external_gcs_source_runs_from_its_sample_folder(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, PROJECT, {})
    sample = tmp_path / "sample-data" / "external" / "partner"
    write(sample, _csv(_rows(1, 40)), "part-0.csv")
    write(sample / "more", _csv(_rows(2, 20)), "part-1.csv")
    out = tmp_path / "out"
    result = pipeline_run(config, "from-files", out)
    assert statuses(result) == {"ingest": "succeeded", "statistics": "succeeded"}, result.steps
    metadata = _metadata(result.steps["ingest"].outputs["examples"])
    assert metadata["source"] == "gs://partner-exports/housing/"
    assert sum(metadata["splits"].values()) == 60  # type: ignore[union-attr]
    local = out / "data" / "gcs" / "partner-exports" / "housing"
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*.csv")) == [
        "more/part-1.csv",
        "part-0.csv",
    ]


def test_an_external_bigquery_table_runs_from_its_sample_file(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, PROJECT, {})
    jsonl(tmp_path / "sample-data" / "external" / "shared.jsonl", _rows(3, 50))
    out = tmp_path / "out"
    result = pipeline_run(config, "from-table", out)
    assert statuses(result) == {"ingest": "succeeded", "statistics": "succeeded"}, result.steps
    metadata = _metadata(result.steps["ingest"].outputs["examples"])
    assert metadata["source"] == f"bq://{SHARED_TABLE}"
    assert sum(metadata["splits"].values()) == 50  # type: ignore[union-attr]
    assert (out / "data" / "bigquery" / f"{SHARED_TABLE}.jsonl").is_file()


@pytest.mark.parametrize(
    ("pipeline", "place", "sample"),
    [
        ("from-files", "gcs/partner-exports/housing/", "sample-data/external/<key>/"),
        (
            "from-table",
            f"bigquery/{SHARED_TABLE}.parquet|jsonl|csv",
            "sample-data/external/<key>.jsonl|csv|parquet",
        ),
    ],
)
def test_an_external_source_without_sample_data_says_where_it_goes(
    tmp_path: pathlib.Path, pipeline: str, place: str, sample: str
) -> None:
    config = project(tmp_path, PROJECT, {})
    out = tmp_path / "out"
    result = pipeline_run(config, pipeline, out)
    assert statuses(result) == {"ingest": "failed", "statistics": "skipped"}
    message = result.steps["ingest"].message or ""
    assert "a data.external source with no data in this local run" in message, message
    assert f"{out.resolve() / 'data'}/{place}" in message, message
    assert f"from {sample}" in message, message


def test_a_misplaced_external_sample_is_refused_and_nothing_copied(tmp_path: pathlib.Path) -> None:
    validation = validate(ConfigSource(write(tmp_path, PROJECT), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    config = validation.targets[Target("dev", "us-central1")].config
    folder = tmp_path / "sample-data" / "external"
    write(folder, "a,b\n1,2\n", "partner.csv")  # files of a gs:// source go in a folder
    write(folder / "shared", "{}\n", "rows.jsonl")  # a table is one file
    write(folder / "partners", "a\n", "x.csv")  # no such key
    write(folder / "good", "x\n", "y.csv")  # stays uncopied: every problem is reported first
    root = tmp_path / "out" / "data"
    with pytest.raises(RunError) as caught:
        stage_data(config, Target("dev", "us-central1"), "acme-demo-dev", tmp_path / "sample-data", root)
    assert str(caught.value).splitlines() == [
        f"{folder}/good: no source 'good' under data.external (declared: partner, shared)",
        f"{folder}/partner.csv: data.external.partner is the files under gs://partner-exports/housing/: "
        f"its sample data is the folder {folder}/partner/ holding them",
        f"{folder}/partners: no source 'partners' under data.external (did you mean 'partner'?)",
        f"{folder}/shared: data.external.shared is the BigQuery table bq://{SHARED_TABLE}: its sample "
        f"data is one file {folder}/shared.jsonl|csv|parquet",
    ]
    assert not root.exists()


def test_external_sources_need_a_sample_data_folder(tmp_path: pathlib.Path) -> None:
    """Like buckets and datasets, a gs:// or bq:// source's data comes from sample-data/."""
    config = project(tmp_path, PROJECT, {})
    (tmp_path / "sample-data").rmdir()
    found = refusal(lambda: run_locally(config, "from-files", tmp_path / "out"))
    assert found.startswith(f"{tmp_path / 'sample-data'}: no such folder"), found
