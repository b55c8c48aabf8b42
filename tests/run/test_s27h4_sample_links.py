"""A local run reads its sample data from its sample data folder only: an entry that links out of it,
and a FIFO, device or socket in it, are refused (one line each, all at once, exit 1, nothing written);
links that stay inside it are read."""

from __future__ import annotations

import os
import pathlib

import pytest
from helpers import run, write
from run_projects import HEAD

from mlopsctl.api import validate
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.run.data import sample_folder, stage_data
from mlopsctl.run.errors import RunError

PROJECT = (
    HEAD
    + """\
data:
  buckets:
    raw: {}
  datasets:
    logs: {}
  external:
    partner: {uri: "gs://partner-exports/housing/", format: CSV}
    shared: {uri: "bq://other.sets.housing"}
pipelines:
  p:
    steps:
      ingest:
        kind: ingest
        source: {gcs: raw/in/, format: csv}
        outputs: {examples: dataset}
"""
)
CENTRAL = Target("dev", "us-central1")
SECRET = "secret-line,of,a,file,outside\n"


def _config(folder: pathlib.Path) -> MLOpsConfig:
    validation = validate(ConfigSource(write(folder, PROJECT), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation.targets[CENTRAL].config


def _outside(tmp_path: pathlib.Path) -> pathlib.Path:
    """A folder beside the project holding a secret file."""
    write(tmp_path / "elsewhere", SECRET, "secret.csv")
    return tmp_path / "elsewhere"


def _link(link: pathlib.Path, target: pathlib.Path | str) -> pathlib.Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def test_each_outward_link_and_special_file_is_refused_once_and_nothing_copied(
    tmp_path: pathlib.Path,
) -> None:
    project = tmp_path / "project"
    config = _config(project)
    outside = _outside(tmp_path)
    data = project / "sample-data"
    write(data, "a,b\n1,2\n", "buckets/raw/in/ok.csv")
    leak = _link(data / "buckets/raw/in/leak.csv", outside / "secret.csv")
    relative = _link(data / "buckets/raw/in/up.csv", "../../../../../elsewhere/secret.csv")
    folder = _link(data / "buckets/raw/linked", outside)
    table = _link(data / "datasets/logs/t.jsonl", outside / "secret.csv")
    gs_source = _link(data / "external/partner", outside)
    bq_source = _link(data / "external/shared.csv", outside / "secret.csv")
    fifo = data / "datasets/logs/pipe.jsonl"
    os.mkfifo(fifo)
    dangling = _link(data / "buckets/raw/in/gone.csv", tmp_path / "nothing-here")
    root = tmp_path / "out" / "data"
    with pytest.raises(RunError) as caught:
        stage_data(config, CENTRAL, "acme-demo-dev", data, root)
    lines = str(caught.value).splitlines()
    real = outside.resolve()
    refused = f"copy the data itself into {data.resolve()} instead of linking it"
    assert lines == [
        f"{dangling}: is a link that leads to no file ({tmp_path / 'nothing-here'}): "
        "remove it or make it a regular file",
        f"{leak}: links outside the sample data folder (to {real / 'secret.csv'}), so a local run does "
        f"not read it: {refused}",
        f"{relative}: links outside the sample data folder (to {real / 'secret.csv'}), so a local run "
        f"does not read it: {refused}",
        f"{folder}: links outside the sample data folder (to {real}), so a local run does not read it: "
        f"{refused}",
        f"{fifo}: is a FIFO, not a regular file: sample data is made of regular files (and folders)",
        f"{table}: links outside the sample data folder (to {real / 'secret.csv'}), so a local run does "
        f"not read it: {refused}",
        f"{gs_source}: links outside the sample data folder (to {real}), so a local run does not read "
        f"it: {refused}",
        f"{bq_source}: links outside the sample data folder (to {real / 'secret.csv'}), so a local run "
        f"does not read it: {refused}",
    ]
    assert SECRET.strip() not in str(caught.value)
    assert not root.exists()


def test_links_that_stay_inside_the_folder_are_read(tmp_path: pathlib.Path) -> None:
    config = _config(tmp_path)
    data = tmp_path / "sample-data"
    write(data, "a,b\n1,2\n", "kept/rows.csv")
    _link(data / "buckets/raw/in/rows.csv", "../../../kept/rows.csv")
    _link(data / "datasets/logs", data / "kept")
    root = tmp_path / "out" / "data"
    written = stage_data(config, CENTRAL, "acme-demo-dev", data, root)
    bucket = root / "gcs" / "demo-dev-us-central1-raw"
    assert written == [
        bucket / "in/rows.csv",
        root / "bigquery/acme-demo-dev.logs_dev_us_central1.rows.csv",
    ]
    assert all(f.read_text() == "a,b\n1,2\n" and not f.is_symlink() for f in written)


def test_a_sample_data_folder_linked_out_of_the_project_needs_data(tmp_path: pathlib.Path) -> None:
    outside = _outside(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    _link(project / "sample-data", outside)
    with pytest.raises(RunError) as caught:
        sample_folder(project, None)
    assert str(caught.value) == (
        f"{project / 'sample-data'}: links outside the folder of mlops.yaml (to {outside.resolve()}), so "
        "a local run does not read it: put the sample data itself there, or name its folder with --data"
    )
    assert sample_folder(project, outside) == outside


def test_data_folder_entries_may_not_lead_out_of_it_either(tmp_path: pathlib.Path) -> None:
    config = _config(tmp_path)
    write(tmp_path, "a,b\n", "beside.csv")  # inside the project, but outside --data
    data = tmp_path / "given"
    link = _link(data / "buckets/raw/in/x.csv", tmp_path / "beside.csv")
    with pytest.raises(RunError, match=r"x\.csv: links outside the sample data folder"):
        stage_data(config, CENTRAL, "acme-demo-dev", data, tmp_path / "out")
    assert link.is_symlink()


def test_the_cli_refuses_with_exit_1_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    project = tmp_path / "project"
    config = write(project, PROJECT)
    outside = _outside(tmp_path)
    _link(project / "sample-data/buckets/raw/in/leak.csv", outside / "secret.csv")
    out = tmp_path / "out"
    code, stdout, stderr = run("run", "p", config, "--env", "dev", "--local", "--out", out)
    assert code == 1
    assert stdout == ""
    assert "leak.csv: links outside the sample data folder" in stderr
    assert "Traceback" not in stderr
    assert "secret-line" not in stderr
    assert not out.exists()
