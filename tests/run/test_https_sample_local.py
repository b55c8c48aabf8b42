"""An ``https://`` source in a local run reads its optional sample file,
``sample-data/external/KEY.EXT``, instead of downloading the URL."""

from __future__ import annotations

import hashlib
import json
import pathlib

import pytest
from api_helpers import pipeline_run, statuses
from helpers import write
from run_projects import HEAD, project

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.run.data import stage_data
from mlopsctl.run.errors import RunError

URL = "https://data.invalid/exports/housing.csv?token=abc"
PROJECT = (
    HEAD
    + f"""\
data:
  external:
    published: {{uri: "{URL}", format: CSV}}
pipelines:
  from-url:
    steps:
      ingest:
        kind: ingest
        source: {{external: published}}
        label: price
        outputs: {{examples: dataset}}
"""
)
ROWS = "rooms,city,price\n" + "".join(
    f"{i % 5 + 1},{'oslo' if i % 2 else 'bergen'},{i * 1.5}\n" for i in range(30)
)


def test_an_https_source_runs_from_its_sample_file_without_the_network(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, PROJECT, {})
    write(tmp_path / "sample-data" / "external", ROWS, "published.csv")
    out = tmp_path / "out"
    result = pipeline_run(config, "from-url", out)
    assert statuses(result) == {"ingest": "succeeded"}, result.steps
    examples = result.steps["ingest"].outputs["examples"]
    assert isinstance(examples, str)
    metadata = json.loads((pathlib.Path(examples) / "metadata.json").read_text())
    assert metadata["source"] == URL
    assert sum(metadata["splits"].values()) == 30
    assert (out / "data" / "https" / hashlib.sha256(URL.encode()).hexdigest()).read_text() == ROWS


def test_an_https_sample_is_one_file(tmp_path: pathlib.Path) -> None:
    validation = validate(ConfigSource(write(tmp_path, PROJECT), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    config = validation.targets[Target("dev", "us-central1")].config
    folder = tmp_path / "sample-data" / "external"
    write(folder / "published", ROWS, "part.csv")
    root = tmp_path / "out" / "data"
    with pytest.raises(RunError) as caught:
        stage_data(config, Target("dev", "us-central1"), "acme-demo-dev", tmp_path / "sample-data", root)
    assert str(caught.value) == (
        f"{folder}/published: data.external.published is the file {URL} serves: its sample data, which "
        f"a local run reads instead of downloading it, is one file {folder}/published.<ext> in its format"
    )
    assert not root.exists()


def test_each_url_has_its_own_stand_in_inside_the_run(tmp_path: pathlib.Path) -> None:
    """The stand-in is named by the URL's hash: a query makes another URL, and a path with '..' cannot
    lead out of the run's data."""
    escaping = "https://x.invalid/../../../../escaped.csv"
    text = PROJECT.replace(
        f'    published: {{uri: "{URL}", format: CSV}}\n',
        f'    published: {{uri: "{URL}", format: CSV}}\n'
        f'    other: {{uri: "{URL.replace("abc", "xyz")}", format: CSV}}\n'
        f'    escaping: {{uri: "{escaping}", format: CSV}}\n',
    )
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    config = validation.targets[Target("dev", "us-central1")].config
    folder = tmp_path / "sample-data" / "external"
    for key in ("published", "other", "escaping"):
        write(folder, f"key\n{key}\n", f"{key}.csv")
    root = tmp_path / "out" / "data"
    stage_data(config, Target("dev", "us-central1"), "acme-demo-dev", tmp_path / "sample-data", root)
    copied = sorted(p.read_text() for p in (root / "https").iterdir())
    assert copied == ["key\nescaping\n", "key\nother\n", "key\npublished\n"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("escaped*")) == []
