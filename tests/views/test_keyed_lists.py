"""Lists of named things are diffed element by element: a change inside one element reads as that
change, under the element's name, never as the element removed and added again.

Each case is planned through the real diff (state recorded from one graph, a second graph
desired) and rendered as text."""

from __future__ import annotations

import pytest

from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource
from mlopsctl.plan import ResourceChange, diff_target
from mlopsctl.state import state_from_graph
from mlopsctl.views.plan_text import render_change

PROD = Target("prod", "us-central1")
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CLUSTER = "gcp:container/cluster:Cluster"


def planned(type_: str, before: dict[str, JSON], after: dict[str, JSON]) -> ResourceChange:
    """The one change that moves a resource named ``r`` from ``before`` to ``after``."""

    def graph(inputs: dict[str, JSON]) -> Graph:
        g = Graph(PROD, "acme-prod")
        g.add(Resource(PROD, type_, "r", inputs))
        return g

    applied = state_from_graph(graph(before), project="acme", source_commit=None, config_hash="h")
    (change,) = diff_target(PROD, graph(after), applied).changes
    return change


def spec(**fields: JSON) -> dict[str, JSON]:
    """A Kubernetes object's inputs with ``fields`` as its spec."""
    return {"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "r", "namespace": "ns"}, "spec": fields}


def pod(containers: list[JSON], **fields: JSON) -> dict[str, JSON]:
    return spec(template={"spec": {"containers": containers, **fields}})


def route(host: str, weight: int) -> JSON:
    return {"destination": {"host": host, "port": {"number": 80}}, "weight": weight}


def http(*routes: JSON, timeout: str = "30s", match: list[JSON] | None = None) -> JSON:
    found: dict[str, JSON] = {"name": "default-http", "route": list(routes), "timeout": timeout}
    return found if match is None else {**found, "match": match}


def container(name: str, image: str, env: list[JSON] | None = None) -> JSON:
    return {"name": name, "image": image, **({} if env is None else {"env": env})}


def var(name: str, value: str) -> JSON:
    return {"name": name, "value": value}


GPU = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SPOT = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}


def pool(name: str, max_nodes: int) -> JSON:
    return {"name": name, "autoscaling": {"minNodeCount": 0, "maxNodeCount": max_nodes}, "nodeCount": 1}


def header(value: str) -> JSON:
    return {"headers": {"x-variant": {"exact": value}}}


CASES: dict[str, tuple[str, dict[str, JSON], dict[str, JSON], str]] = {
    "Istio route weights, by destination": (
        VIRTUAL_SERVICE,
        spec(hosts=["api.example.com"], http=[http(route("a", 95), route("b", 5))]),
        spec(hosts=["api.example.com"], http=[http(route("a", 75), route("b", 25))]),
        """\
  # prod/us-central1/kubernetes:networking.istio.io/v1:VirtualService/r will be updated in-place
  ~ resource "kubernetes:networking.istio.io/v1:VirtualService" "r" {
      ~ spec = {
          ~ http = [
              ~ {
                    name = "default-http"
                  ~ route = [
                      ~ {
                            destination = { host = "a", port = { number = 80 } }
                          ~ weight = 95 -> 75
                        },
                      ~ {
                            destination = { host = "b", port = { number = 80 } }
                          ~ weight = 5 -> 25
                        },
                    ]
                    # (1 unchanged attribute hidden)
                },
            ]
            # (1 unchanged attribute hidden)
        }
        # (3 unchanged attributes hidden)
    }""",
    ),
    "env vars, by name": (
        DEPLOYMENT,
        pod([container("main", "img:1", [var("A", "1"), var("B", "2"), var("C", "3")])]),
        pod([container("main", "img:1", [var("A", "1"), var("B", "20"), var("C", "3"), var("D", "4")])]),
        """\
  # prod/us-central1/kubernetes:apps/v1:Deployment/r will be updated in-place
  ~ resource "kubernetes:apps/v1:Deployment" "r" {
      ~ spec = {
          ~ template = {
              ~ spec = {
                  ~ containers = [
                      ~ {
                            name = "main"
                          ~ env = [
                                # (1 unchanged element hidden)
                              ~ {
                                    name = "B"
                                  ~ value = "2" -> "20"
                                },
                                # (1 unchanged element hidden)
                              + {
                                  + name  = "D"
                                  + value = "4"
                                },
                            ]
                            # (1 unchanged attribute hidden)
                        },
                    ]
                }
            }
        }
        # (3 unchanged attributes hidden)
    }""",
    ),
    "containers, by name": (
        DEPLOYMENT,
        pod([container("main", "img:1"), container("sidecar", "proxy:1")]),
        pod([container("init", "busybox:1"), container("main", "img:1"), container("sidecar", "proxy:2")]),
        """\
  # prod/us-central1/kubernetes:apps/v1:Deployment/r will be updated in-place
  ~ resource "kubernetes:apps/v1:Deployment" "r" {
      ~ spec = {
          ~ template = {
              ~ spec = {
                  ~ containers = [
                      + {
                          + image = "busybox:1"
                          + name  = "init"
                        },
                        # (1 unchanged element hidden)
                      ~ {
                            name = "sidecar"
                          ~ image = "proxy:1" -> "proxy:2"
                        },
                    ]
                }
            }
        }
        # (3 unchanged attributes hidden)
    }""",
    ),
    "volumes, by name": (
        DEPLOYMENT,
        pod(
            [container("main", "img:1")],
            volumes=[{"name": "cache", "emptyDir": {}}, {"name": "config", "configMap": {"name": "c1"}}],
        ),
        pod([container("main", "img:1")], volumes=[{"name": "config", "configMap": {"name": "c2"}}]),
        """\
  # prod/us-central1/kubernetes:apps/v1:Deployment/r will be updated in-place
  ~ resource "kubernetes:apps/v1:Deployment" "r" {
      ~ spec = {
          ~ template = {
              ~ spec = {
                  ~ volumes = [
                      - {
                          - emptyDir = {}
                          - name     = "cache"
                        },
                      ~ {
                            name = "config"
                          ~ configMap = {
                              ~ name = "c1" -> "c2"
                            }
                        },
                    ]
                    # (1 unchanged attribute hidden)
                }
            }
        }
        # (3 unchanged attributes hidden)
    }""",
    ),
    "tolerations, by key": (
        DEPLOYMENT,
        pod([container("main", "img:1")], tolerations=[GPU, SPOT]),
        pod([container("main", "img:1")], tolerations=[{**SPOT, "effect": "NoExecute"}]),
        """\
  # prod/us-central1/kubernetes:apps/v1:Deployment/r will be updated in-place
  ~ resource "kubernetes:apps/v1:Deployment" "r" {
      ~ spec = {
          ~ template = {
              ~ spec = {
                  ~ tolerations = [
                      - {
                          - effect   = "NoSchedule"
                          - key      = "nvidia.com/gpu"
                          - operator = "Exists"
                        },
                      ~ {
                            key = "cloud.google.com/gke-spot"
                          ~ effect = "NoSchedule" -> "NoExecute"
                            # (2 unchanged attributes hidden)
                        },
                    ]
                    # (1 unchanged attribute hidden)
                }
            }
        }
        # (3 unchanged attributes hidden)
    }""",
    ),
    "node pools, by name": (
        CLUSTER,
        {"name": "c", "nodePools": [pool("cpu", 10), pool("gpu", 4)]},
        {"name": "c", "nodePools": [pool("tpu", 2), pool("cpu", 10), pool("gpu", 8)]},
        """\
  # prod/us-central1/gcp:container/cluster:Cluster/r will be updated in-place
  ~ resource "gcp:container/cluster:Cluster" "r" {
      ~ nodePools = [
          + {
              + autoscaling = {
                  + maxNodeCount = 2
                  + minNodeCount = 0
                }
              + name        = "tpu"
              + nodeCount   = 1
            },
            # (1 unchanged element hidden)
          ~ {
                name = "gpu"
              ~ autoscaling = {
                  ~ maxNodeCount = 4 -> 8
                    # (1 unchanged attribute hidden)
                }
                # (1 unchanged attribute hidden)
            },
        ]
        # (1 unchanged attribute hidden)
    }""",
    ),
    "HTTP match rules without names, changed in place": (
        VIRTUAL_SERVICE,
        spec(http=[http(route("a", 100), match=[header("next"), header("canary")])]),
        spec(http=[http(route("a", 100), match=[header("beta"), header("canary")])]),
        """\
  # prod/us-central1/kubernetes:networking.istio.io/v1:VirtualService/r will be updated in-place
  ~ resource "kubernetes:networking.istio.io/v1:VirtualService" "r" {
      ~ spec = {
          ~ http = [
              ~ {
                    name = "default-http"
                  ~ match = [
                      ~ {
                          ~ headers = {
                              ~ x-variant = {
                                  ~ exact = "next" -> "beta"
                                }
                            }
                        },
                        # (1 unchanged element hidden)
                    ]
                    # (2 unchanged attributes hidden)
                },
            ]
        }
        # (3 unchanged attributes hidden)
    }""",
    ),
    "HTTP match rules, by name": (
        VIRTUAL_SERVICE,
        spec(
            http=[
                http(route("a", 100), match=[{"name": "n", **header("next")}, {"name": "c", **header("x")}])
            ]
        ),
        spec(http=[http(route("a", 100), match=[{"name": "c", **header("y")}])]),
        """\
  # prod/us-central1/kubernetes:networking.istio.io/v1:VirtualService/r will be updated in-place
  ~ resource "kubernetes:networking.istio.io/v1:VirtualService" "r" {
      ~ spec = {
          ~ http = [
              ~ {
                    name = "default-http"
                  ~ match = [
                      - {
                          - headers = {
                              - x-variant = {
                                  - exact = "next"
                                }
                            }
                          - name    = "n"
                        },
                      ~ {
                            name = "c"
                          ~ headers = {
                              ~ x-variant = {
                                  ~ exact = "x" -> "y"
                                }
                            }
                        },
                    ]
                    # (2 unchanged attributes hidden)
                },
            ]
        }
        # (3 unchanged attributes hidden)
    }""",
    ),
}


@pytest.mark.parametrize(("type_", "before", "after", "expected"), CASES.values(), ids=CASES.keys())
def test_list_elements_are_diffed_by_key(
    type_: str, before: dict[str, JSON], after: dict[str, JSON], expected: str
) -> None:
    assert render_change(planned(type_, before, after)) == expected


POSITIONAL = {
    "an object replaced by an object reads as changed": (
        [{"a": 1, "b": 2}, "x"],
        [{"a": 1, "b": 3}, "x"],
        [
            "  ~ {",
            "      ~ b = 2 -> 3",
            "        # (1 unchanged attribute hidden)",
            "    },",
            "    # (1 unchanged element hidden)",
        ],
    ),
    "a scalar replaced by an object is removed and added": (
        ["x", "y"],
        ["x", {"a": 1}],
        ["    # (1 unchanged element hidden)", '  - "y",', "  + {", "      + a = 1", "    },"],
    ),
    "surplus objects are added after the pairs": (
        [{"a": 1}],
        [{"a": 2}, {"a": 3}],
        ["  ~ {", "      ~ a = 1 -> 2", "    },", "  + {", "      + a = 3", "    },"],
    ),
}


@pytest.mark.parametrize(("before", "after", "expected"), POSITIONAL.values(), ids=POSITIONAL.keys())
def test_unnamed_objects_pair_by_position(before: list[JSON], after: list[JSON], expected: list[str]) -> None:
    """As Terraform shows them: an object removed where an object is added is that object changed."""
    lines = render_change(planned(CLUSTER, {"items": before}, {"items": after})).splitlines()
    body = [line.removeprefix(" " * 8) for line in lines[3:-2]]
    assert body == expected


def test_a_reordered_list_is_not_read_by_name() -> None:
    """Istio takes the first route that matches: a route moved is shown moved, not hidden by its name."""
    before = {"http": [{"name": "a", "timeout": "1s"}, {"name": "b", "timeout": "1s"}]}
    after = {"http": [{"name": "b", "timeout": "1s"}, {"name": "a", "timeout": "2s"}]}
    assert render_change(planned(VIRTUAL_SERVICE, before, after)).splitlines()[2:-1] == [
        "      ~ http = [",
        "          - {",
        '              - name    = "a"',
        '              - timeout = "1s"',
        "            },",
        "            # (1 unchanged element hidden)",
        "          + {",
        '              + name    = "a"',
        '              + timeout = "2s"',
        "            },",
        "        ]",
    ]
