"""A waiver by resource pattern that matches no compiled resource waives nothing: check warns (W303)
at the pattern, with the closest address, as it does for a waiver by path."""

from __future__ import annotations

import pathlib

import pytest
from helpers import WITH_DATA, run, write

WAIVED = (
    WITH_DATA
    + """\
policies:
  waivers:
    - policy: MLP006
      resource: "PATTERN"
      reason: replicated by design
security:
  kms:
    data: {}
  defaultKmsKey: data
"""
)


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        (
            "prod/*/gcp:storage/bucket:Bucket/rw",
            "did you mean 'prod/us-central1/gcp:storage/bucket:Bucket/raw'?",
        ),
        ("nothing-like-it", "addresses look like ENV/REGION/TYPE/NAME"),
    ],
)
def test_a_resource_waiver_matching_nothing_is_a_located_warning(
    tmp_path: pathlib.Path, pattern: str, hint: str
) -> None:
    config = write(tmp_path, WAIVED.replace("PATTERN", pattern))
    line = config.read_text().splitlines().index(f'      resource: "{pattern}"') + 1
    code, out, err = run("check", config)
    assert code == 0
    assert (
        f"{config}:{line}:17: warning W303: the waiver of MLP006 for resource '{pattern}' matches no " in err
    )
    assert f"  hint: {hint}" in err
    assert out.endswith("0 errors, 1 warning.\n")


def test_a_resource_waiver_that_matches_is_not_reported(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WAIVED.replace("PATTERN", "prod/*/gcp:storage/bucket:Bucket/raw"))
    code, out, err = run("check", config)
    assert (code, err) == (0, "")
    assert out.endswith("0 errors, 0 warnings.\n")


def test_a_waiver_of_an_environment_left_out_of_the_check_is_not_reported(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WAIVED.replace("PATTERN", "prod/*/gcp:storage/bucket:Bucket/rw"))
    code, out, err = run("check", config, "--env", "dev")
    assert (code, err) == (0, "")
    assert out.endswith("0 errors, 0 warnings.\n")


def test_a_waiver_of_a_region_left_out_of_the_check_is_not_reported(tmp_path: pathlib.Path) -> None:
    text = WAIVED.replace("PATTERN", "prod/us-central1/gcp:storage/bucket:Bucket/rw")
    text = text.replace("    regions: [us-central1]\n", "    regions: [us-central1, europe-west4]\n")
    config = write(tmp_path, text)
    _, _, err = run("check", config, "--env", "prod", "--region", "europe-west4")
    assert "W303" not in err, err
    _, _, err = run("check", config, "--env", "prod", "--region", "us-central1")
    assert "W303" in err


@pytest.mark.parametrize("pattern", ["prod/*", "prod/us-central1"])
def test_a_short_pattern_of_an_environment_left_out_is_not_reported(
    tmp_path: pathlib.Path, pattern: str
) -> None:
    config = write(tmp_path, WAIVED.replace("PATTERN", pattern))
    _, _, err = run("check", config, "--env", "dev")
    assert "W303" not in err, err
