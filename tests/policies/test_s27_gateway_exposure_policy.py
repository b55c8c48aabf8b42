"""MLP004: endpoints published on an ingress gateway with a public IP address, in production."""

from __future__ import annotations

import pathlib

from helpers import MINIMAL
from policy_helpers import PASSING, edited, findings, summary, where

PROD_EXTERNAL = (
    "    gcpProject: acme-demo-prod\n",
    "    gcpProject: acme-demo-prod\n    overrides:\n"
    "      security:\n        ingressGateway: {exposure: external}\n",
)
RELEASE = "prod/us-central1/kubernetes:helm.sh/v3:Release/istio-ingressgateway"


def test_an_internal_gateway_passes(tmp_path: pathlib.Path) -> None:
    assert findings(tmp_path, PASSING) == []


def test_an_external_gateway_in_production_is_an_error_at_the_setting(tmp_path: pathlib.Path) -> None:
    text = edited(PASSING, [PROD_EXTERNAL])
    found = findings(tmp_path, text)
    assert summary(found) == [("MLP004", "error", where(text, "exposure: external"))]
    assert found[0].address == RELEASE
    assert found[0].message == (
        "endpoint score is published in prod on an ingress gateway with a public IP address "
        "(exposure: external): anyone on the internet can send requests, the gateway authenticates no client"
    )
    assert found[0].hint is not None and "exposure: internal" in found[0].hint


def test_outside_production_an_external_gateway_is_accepted(tmp_path: pathlib.Path) -> None:
    text = edited(
        PASSING, [("security:\n  kms:", "security:\n  ingressGateway: {exposure: external}\n  kms:")]
    )
    found = findings(tmp_path, text)
    # written once for every environment: the finding is prod's only, at the base setting
    assert summary(found) == [("MLP004", "error", where(text, "exposure: external"))]
    assert "in prod" in found[0].message


def test_a_waiver_with_a_reason_accepts_it(tmp_path: pathlib.Path) -> None:
    waiver = (
        "policies:\n  waivers:\n    - policy: MLP004\n      path: security.ingressGateway.exposure\n"
        "      reason: public API behind Cloud Armor, reviewed by security\nmonitors:"
    )
    text = edited(PASSING, [PROD_EXTERNAL, ("monitors:", waiver)])
    assert findings(tmp_path, text) == []


def test_without_endpoints_nothing_is_published(tmp_path: pathlib.Path) -> None:
    text = MINIMAL + "security:\n  ingressGateway: {exposure: external}\n"
    assert [d for d in findings(tmp_path, text) if d.code == "MLP004"] == []
