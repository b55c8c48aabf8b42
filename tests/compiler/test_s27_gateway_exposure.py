"""The ingress gateway's load balancer: internal (a VPC address) unless ``security.ingressGateway.exposure``
says external, per environment, in every way mlopsctl installs the gateway's chart."""

from __future__ import annotations

import json
import pathlib

from helpers import MINIMAL, STAGED, compile_text, run
from ruamel.yaml import YAML

from mlopsctl.api import platform, validate
from mlopsctl.config.addons import catalog
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph

DEV, PROD = Target("dev", "us-central1"), Target("prod", "us-central1")
INTERNAL = {"networking.gke.io/load-balancer-type": "Internal"}
ENDPOINT = (
    "models:\n  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/m/1}}}\n"
    "endpoints:\n  score:\n    variants:\n      main: {model: m, version: v1}\n"
)
PROD_EXTERNAL = STAGED.replace(
    "    regions: [us-central1, europe-west4]\n",
    "    regions: [us-central1]\n    overrides:\n"
    "      security:\n        ingressGateway: {exposure: external}\n",
)


def _service(graph: Graph) -> JSON:
    """The ``service`` values of the gateway chart's Release in ``graph``."""
    release = next(r for r in graph if r.is_addon and r.name == "istio-ingressgateway")
    assert release.inputs["chart"] == "gateway"
    return release.inputs["values"]["service"]


def test_by_default_the_gateway_gets_an_internal_load_balancer(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, STAGED + ENDPOINT)
    for target in (DEV, PROD, Target("prod", "europe-west4")):
        assert _service(graphs[target]) == {"type": "LoadBalancer", "annotations": INTERNAL}


def test_an_overlay_makes_one_environment_external(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, PROD_EXTERNAL + ENDPOINT)
    assert _service(graphs[DEV]) == {"type": "LoadBalancer", "annotations": INTERNAL}
    assert _service(graphs[PROD]) == {"type": "LoadBalancer"}  # the chart's public LoadBalancer
    # what one target adds is not left in the catalog for the next
    assert "annotations" not in catalog().addons["istio-ingressgateway"].values["service"]


def test_a_managed_mesh_still_gets_an_internal_gateway(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, STAGED + ENDPOINT + "platform: {mesh: managed}\n")
    assert _service(graphs[DEV]) == {"type": "LoadBalancer", "annotations": INTERNAL}


def test_compiling_twice_gives_the_same_values(tmp_path: pathlib.Path) -> None:
    first = compile_text(tmp_path / "a", PROD_EXTERNAL + ENDPOINT)
    second = compile_text(tmp_path / "b", PROD_EXTERNAL + ENDPOINT)
    for target in (DEV, PROD):
        assert json.dumps(_service(first[target])) == json.dumps(_service(second[target]))


def test_the_rendered_application_carries_the_exposure_of_its_environment(tmp_path: pathlib.Path) -> None:
    compile_text(tmp_path, PROD_EXTERNAL + ENDPOINT)
    code, _, err = run("render", tmp_path / "mlops.yaml", "-o", tmp_path / "out")
    assert code == 0, err
    values = {}
    for env in ("dev", "prod"):
        app = YAML(typ="safe", pure=True).load(
            tmp_path / "out" / env / "us-central1" / "platform" / "istio-ingressgateway.yaml"
        )
        values[env] = app["spec"]["source"]["helm"]["valuesObject"]["service"]
    assert values == {
        "dev": {"type": "LoadBalancer", "annotations": INTERNAL},
        "prod": {"type": "LoadBalancer"},
    }


def test_mlopsctl_platform_says_which_load_balancer(tmp_path: pathlib.Path) -> None:
    compile_text(tmp_path, PROD_EXTERNAL + ENDPOINT)
    report = platform(validate(ConfigSource(tmp_path / "mlops.yaml", "mlops.yaml", None)))
    install = {
        t: next(u.install for u in uses if u.name == "istio-ingressgateway") for t, uses in report.items()
    }
    assert install[DEV].endswith(", internal load balancer (networking.gke.io/load-balancer-type: Internal)")
    assert install[PROD].endswith(", external load balancer (public IP address)")


def test_without_endpoints_there_is_no_gateway_to_expose(tmp_path: pathlib.Path) -> None:
    text = MINIMAL + "security:\n  ingressGateway: {exposure: external}\n"
    assert not [r for r in compile_text(tmp_path, text)[DEV] if r.is_addon]
