"""One mistake, one error: a bad name is not reported again in every string that uses it as a variable,
and an overlay section that is not a mapping is reported once, where it is written."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, WITH_DATA, diagnostics, edited

MODEL = """\
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "URI"}
"""


def _with_model(uri: str, edits: list[tuple[str, str]]) -> str:
    return edited(MINIMAL + MODEL.replace("URI", uri), edits)


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            [("name: demo", "name: prøjekt")],
            "4:9: error E205: invalid project.name: 'prøjekt' is not a name: lowercase letters, digits "
            "and '-', starting with a letter",
        ),
        ([("  dev:", "  Dev_Env.1:")], "6:3: error E205: invalid name 'Dev_Env.1' in environments"),
        (
            [("gcpProject: acme-demo-prod", "gcpProject: Acme_Prod")],
            "10:17: error E205: invalid environments.prod.gcpProject: 'Acme_Prod' is not a GCP project id: "
            "6-30 lowercase letters, digits and '-'",
        ),
    ],
    ids=["project", "env", "gcpProject"],
)
def test_a_bad_name_is_reported_once_not_in_the_strings_made_from_it(
    tmp_path: pathlib.Path, edits: list[tuple[str, str]], expected: str
) -> None:
    uri = "gs://${project}-${env}-${region}-${gcpProject}/clf/v1"
    found = diagnostics(tmp_path, _with_model(uri, edits))
    assert [line for line, _ in found] == [expected]


def test_a_bad_environment_name_is_not_reported_again_in_default_bucket_names(tmp_path: pathlib.Path) -> None:
    """The default bucket names (``<project>-<env>-<region>-<key>``, the pipeline root's too) of an
    environment whose name is invalid are invalid for that reason alone."""
    text = edited(
        WITH_DATA + "pipelines:\n  p:\n    steps: {s: {image: x:1}}\n", [("  dev:", "  Dev_Env.1:")]
    )
    found = diagnostics(tmp_path, text)
    assert [line for line, _ in found if " E304" in line or " E205" in line] == [
        "6:3: error E205: invalid name 'Dev_Env.1' in environments"
    ]


def test_a_missing_value_is_reported_once_not_in_the_strings_that_use_it(tmp_path: pathlib.Path) -> None:
    edits = [
        ("    gcpProject: acme-demo-dev\n", ""),
        ("name: demo\n", 'name: demo\n  labels: {home: "${gcpProject}"}\n'),
    ]
    found = diagnostics(tmp_path, edited(MINIMAL, edits))
    assert [line for line, _ in found] == [
        "8:5: error E201: missing required field 'gcpProject' in environments.dev"
    ]


def test_a_string_wrong_for_another_reason_is_still_reported(tmp_path: pathlib.Path) -> None:
    text = _with_model("gs://${project}-Bad_Bucket/clf", [("name: demo", "name: prøjekt")])
    found = [line for line, _ in diagnostics(tmp_path, text)]
    assert found[0].startswith("4:9: error E205: invalid project.name")
    assert found[1:] == [
        "16:25: error E205: invalid models.clf.versions.v1.artifactUri: 'gs://prøjekt-Bad_Bucket/clf' is not "
        "a gs://bucket/path URI"
    ]


@pytest.mark.parametrize(
    ("overlay", "where"),
    [
        ("    overrides:\n      endpoints: [1, 2]\n", "environments.prod.overrides.endpoints"),
        (
            "    regionOverrides:\n      europe-west4:\n        data: [raw]\n",
            "environments.prod.regionOverrides.europe-west4.data",
        ),
    ],
    ids=["overrides", "regionOverrides"],
)
def test_an_overlay_section_that_is_not_a_mapping_is_one_error(
    tmp_path: pathlib.Path, overlay: str, where: str
) -> None:
    found = diagnostics(tmp_path, MINIMAL + overlay)
    assert [line.split(": ", 2)[1:] for line, _ in found] == [
        ["error E202", f"{where} must be a mapping, not a list"]
    ]
