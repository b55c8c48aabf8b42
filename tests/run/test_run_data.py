"""Sample data copied into the local storage root under the names the target resolves its keys to."""

from __future__ import annotations

import pathlib

import pytest
from helpers import write
from run_projects import HEAD

from mlopsctl.api import validate
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.run.data import stage_data
from mlopsctl.run.errors import RunError

DATA = (
    HEAD
    + """\
data:
  buckets:
    raw: {}
    models: {name: 'acme-models-${region}'}
  datasets:
    features: {}
    serving: {}
"""
)
CENTRAL = Target("dev", "us-central1")
EAST = Target("dev", "us-east1")


def _config(folder: pathlib.Path, target: Target) -> MLOpsConfig:
    validation = validate(ConfigSource(write(folder, DATA), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation.targets[target].config


def _sample(folder: pathlib.Path, files: list[str]) -> pathlib.Path:
    for name in files:
        write(folder / "sample-data", f"contents of {name}\n", name)
    return folder / "sample-data"


@pytest.mark.parametrize(
    ("target", "source", "destination"),
    [
        (CENTRAL, "buckets/raw/a/b.csv", "gcs/demo-dev-us-central1-raw/a/b.csv"),
        (EAST, "buckets/raw/a/b.csv", "gcs/demo-dev-us-east1-raw/a/b.csv"),
        (EAST, "buckets/models/m/v1/model.json", "gcs/acme-models-us-east1/m/v1/model.json"),
        (
            CENTRAL,
            "datasets/features/daily.jsonl",
            "bigquery/acme-demo-dev.features_dev_us_central1.daily.jsonl",
        ),
        (EAST, "datasets/features/t.parquet", "bigquery/acme-demo-dev.features_dev_us_east1.t.parquet"),
        (CENTRAL, "datasets/serving/r.csv", "bigquery/acme-demo-dev.serving_dev_us_central1.r.csv"),
    ],
)
def test_files_land_under_their_resolved_names(
    tmp_path: pathlib.Path, target: Target, source: str, destination: str
) -> None:
    folder = _sample(tmp_path, [source])
    root = tmp_path / "out" / "data"
    written = stage_data(_config(tmp_path, target), target, "acme-demo-dev", folder, root)
    assert written == [root / destination]
    assert (root / destination).read_text() == f"contents of {source}\n"
    assert not (root / destination).is_symlink()


def test_a_second_staging_restores_the_sample_and_keeps_what_runs_wrote(tmp_path: pathlib.Path) -> None:
    folder = _sample(tmp_path, ["datasets/features/t.jsonl"])
    root = tmp_path / "data"
    config = _config(tmp_path, CENTRAL)
    [table] = stage_data(config, CENTRAL, "acme-demo-dev", folder, root)
    table.write_text("appended by a run\n")
    pushed = root / "gcs" / "acme-models-us-central1" / "m" / "v2" / "model.json"
    pushed.parent.mkdir(parents=True)
    pushed.write_text("{}")
    stage_data(config, CENTRAL, "acme-demo-dev", folder, root)
    assert table.read_text() == "contents of datasets/features/t.jsonl\n"
    assert (folder / "datasets/features/t.jsonl").read_text() == "contents of datasets/features/t.jsonl\n"
    assert pushed.read_text() == "{}"


def test_every_problem_is_reported_and_nothing_copied(tmp_path: pathlib.Path) -> None:
    folder = _sample(
        tmp_path,
        [
            "buckets/raw/ok.csv",
            "buckets/rwa/x.csv",
            "buckets/loose.csv",
            "datasets/features/t.txt",
            "datasets/nope/t.jsonl",
        ],
    )
    root = tmp_path / "data"
    with pytest.raises(RunError) as caught:
        stage_data(_config(tmp_path, CENTRAL), CENTRAL, "acme-demo-dev", folder, root)
    assert str(caught.value).splitlines() == [
        f"{folder}/buckets/loose.csv: expected a folder per key (buckets/<bucket>/<path> and "
        "datasets/<dataset>/<table>.jsonl|csv|parquet, with the keys of data.buckets and data.datasets)",
        f"{folder}/buckets/rwa: no bucket 'rwa' under data.buckets (did you mean 'raw'?)",
        f"{folder}/datasets/features/t.txt: a table is a file <table>.jsonl|.csv|.parquet",
        f"{folder}/datasets/nope: no dataset 'nope' under data.datasets (declared: features, serving)",
    ]
    assert not root.exists()
