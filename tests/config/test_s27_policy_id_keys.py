"""A key of policies.levels is a policy id: a malformed one is told what an id looks like."""

from __future__ import annotations

import pathlib

from helpers import DEV_ONLY, diagnostics


def test_a_malformed_policy_id_under_levels_gets_the_form_of_an_id(tmp_path: pathlib.Path) -> None:
    [(message, hint)] = diagnostics(tmp_path, DEV_ONLY + "policies:\n  levels: {MLP9: warning}\n")
    assert "E205: invalid name 'MLP9' in policies.levels" in message
    assert hint == "write a policy id such as 'GKE001' or 'team.no-public-buckets'"
