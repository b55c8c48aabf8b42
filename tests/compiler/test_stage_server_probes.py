"""Every Deployment that runs a stage runtime server (request logger, retrain receiver) is probed on
the ``GET /healthz`` it serves, so that traffic and events reach it only once it is ready."""

from __future__ import annotations

import pathlib

import pytest
from conftest import EXAMPLES
from kfp_multiuser import example_graphs

from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_stage_servers_are_probed_on_healthz(example: pathlib.Path) -> None:
    servers = []
    for graph in example_graphs(example).values():
        for r in graph:
            if r.type != DEPLOYMENT:
                continue
            for container in r.inputs["spec"]["template"]["spec"]["containers"]:
                if container.get("command", [None])[0] != STAGE_PROGRAM:
                    continue
                servers.append(container["command"][1])
                ports = {p["name"] for p in container["ports"]}
                for probe in ("readinessProbe", "livenessProbe"):
                    assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, r.address
                assert "http" in ports, r.address
    assert servers, "no example runs a stage runtime server"
