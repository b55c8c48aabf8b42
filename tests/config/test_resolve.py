from __future__ import annotations

import pathlib

from mlopsctl.config.load import load_bytes
from mlopsctl.config.resolve import resolve, targets_of
from mlopsctl.config.target import Target

DOC = b"""\
project: {name: demo}
environments:
  dev:
    gcpProject: acme-dev
    regions: [us-central1]
  prod:
    gcpProject: acme-prod
    regions: [us-central1, europe-west4]
    overrides:
      data:
        buckets:
          raw: {versioning: false, labels: {tier: gold}}
          scratch: null
      endpoints:
        api: {protocols: [grpc]}
    regionOverrides:
      europe-west4:
        data:
          buckets:
            raw: {location: EU}
data:
  buckets:
    raw: {name: "${project}-${env}-${region}-raw", labels: {team: ml}}
    scratch: {}
    literal: {name: "$${keep}"}
endpoints:
  api: {protocols: [http, grpc], host: "${gcpProject}.example"}
"""


def _resolved(target: Target):  # type: ignore[no-untyped-def]
    doc, diagnostics = load_bytes(DOC, "mlops.yaml", pathlib.Path("."))
    assert doc is not None and not diagnostics
    return resolve(doc, target)


def test_targets_in_declaration_order() -> None:
    doc, _ = load_bytes(DOC, "mlops.yaml", pathlib.Path("."))
    assert doc is not None
    assert targets_of(doc) == [
        Target("dev", "us-central1"),
        Target("prod", "us-central1"),
        Target("prod", "europe-west4"),
    ]


def test_base_is_unchanged_without_overlays() -> None:
    resolved, diagnostics = _resolved(Target("dev", "us-central1"))
    assert not diagnostics
    buckets = resolved.data["data"]["buckets"]
    assert set(buckets) == {"raw", "scratch", "literal"}
    assert buckets["raw"]["name"] == "demo-dev-us-central1-raw"
    assert buckets["literal"]["name"] == "${keep}"
    assert resolved.data["endpoints"]["api"]["host"] == "acme-dev.example"


def test_maps_merge_lists_replace_null_removes() -> None:
    resolved, _ = _resolved(Target("prod", "europe-west4"))
    buckets = resolved.data["data"]["buckets"]
    assert "scratch" not in buckets
    assert buckets["raw"]["versioning"] is False
    assert buckets["raw"]["labels"] == {"team": "ml", "tier": "gold"}
    assert buckets["raw"]["location"] == "EU"
    assert resolved.data["endpoints"]["api"]["protocols"] == ["grpc"]


def test_positions_follow_values_into_overlays() -> None:
    resolved, _ = _resolved(Target("prod", "europe-west4"))
    assert resolved.sources.lookup(("data", "buckets", "raw", "location")).line == 20
    assert resolved.sources.lookup(("data", "buckets", "raw", "versioning")).line == 12
    assert resolved.sources.lookup(("data", "buckets", "raw", "labels", "team")).line == 23
    assert ("data", "buckets", "scratch") not in resolved.sources.keys


def test_unknown_variable_is_reported() -> None:
    doc, _ = load_bytes(
        b"project: {name: d}\nenvironments: {dev: {gcpProject: p, regions: [r1]}}\nx: '${nope}'\n",
        "mlops.yaml",
        pathlib.Path("."),
    )
    assert doc is not None
    _, diagnostics = resolve(doc, Target("dev", "r1"))
    assert [(d.code, d.path) for d in diagnostics] == [("E204", ("x",))]
    assert diagnostics[0].hint is not None and "${env}" in diagnostics[0].hint
