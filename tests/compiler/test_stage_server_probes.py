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


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_monitor_runs_request_what_they_use_and_burst_past_it(example: pathlib.Path) -> None:
    """A drift or skew CronJob is never a BestEffort pod, and has no memory limit to be killed at."""
    found = 0
    for graph in example_graphs(example).values():
        for r in graph:
            if r.type != "kubernetes:batch/v1:CronJob" or "mlopsctl.dev/monitor" not in str(r.inputs):
                continue
            pod = r.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            (container,) = [c for c in pod["containers"] if c["command"][1] in ("drift", "skew")]
            assert container["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}}, r.address
            found += 1
    assert found
