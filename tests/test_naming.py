from __future__ import annotations

import pytest

from mlopsctl.config import naming
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.target import Target

REGIONS = [
    "us-central1",
    "us-east1",
    "us-east4",
    "europe-west1",
    "europe-west4",
    "asia-south1",
    "asia-southeast1",
    "asia-northeast1",
    "northamerica-northeast1",
    "australia-southeast1",
    "me-west1",
]


def test_short_region_names_are_distinct() -> None:
    assert len({naming.region_short(r) for r in REGIONS}) == len(REGIONS)
    assert naming.region_short("us-central1") == "usc1"


@pytest.mark.parametrize("length", [10, 30, 63, 100])
def test_shorten_keeps_names_within_the_limit_stable_and_distinct(length: int) -> None:
    name = "x" * length
    short = naming.shorten(name, 30)
    assert len(short) <= 30 and short == naming.shorten(name, 30)
    assert (short == name) == (length <= 30)
    assert naming.shorten(name + "a", 30) != naming.shorten(name + "b", 30) or length + 1 <= 30


@pytest.mark.parametrize("name", ["a", "train", "x" * 40])
@pytest.mark.parametrize("kind", ["pipeline", "endpoint", "monitor", "batch", "account"])
def test_google_service_account_ids_are_valid_and_per_target(kind: naming.Workload, name: str) -> None:
    ids = {
        naming.gsa_account_id(kind, name, Target(env, region))
        for env in ("dev", "prod")
        for region in REGIONS
    }
    assert len(ids) == 2 * len(REGIONS)
    assert all(naming.GSA_ACCOUNT_ID.match(i) for i in ids), ids
    accounts = {naming.workload_account(kind, name, Target("prod", r)) for r in REGIONS}
    assert len(accounts) == len(REGIONS) and all(naming.DNS_LABEL.match(a) for a in accounts)


def test_control_plane_ranges_differ_by_environment_and_region_unless_given() -> None:
    doc = {
        "apiVersion": "mlopsctl.dev/v1alpha1",
        "kind": "MLOpsProject",
        "project": {"name": "demo"},
        "environments": {
            "prod": {"gcpProject": "acme-demo-prod", "regions": ["us-central1", "europe-west4"]}
        },
    }
    config = MLOpsConfig.model_validate(doc)
    ranges = {naming.master_cidr(config, Target("prod", r)) for r in ("us-central1", "europe-west4")}
    assert ranges == {"172.16.142.112/28", "172.16.188.32/28"}
    given = MLOpsConfig.model_validate({**doc, "security": {"network": {"masterCidr": "10.0.0.0/28"}}})
    assert naming.master_cidr(given, Target("prod", "us-central1")) == "10.0.0.0/28"
