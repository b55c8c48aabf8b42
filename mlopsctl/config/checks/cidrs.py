"""The cluster's place in the VPC network: CIDR blocks as the cloud reads them (octets in range,
no host bits set, a /28 for the private control plane) and a subnetwork in the cluster's region."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models.security import SHARED_SUBNETWORK
from mlopsctl.config.sourcemap import Path

MASTER_PREFIX = 28
"""GKE takes exactly a /28 for a private cluster's control plane (masterIpv4CidrBlock)."""


def cidr_problem(cidr: str) -> tuple[str, str] | None:
    """Why ``cidr`` is not a network address with its prefix, and a hint; None when it is."""
    try:
        ipaddress.IPv4Network(cidr, strict=True)
    except ipaddress.AddressValueError as exc:
        return f"'{cidr}' is not an IPv4 address range ({exc})", "give four octets of 0-255, e.g. 10.0.0.0/8"
    except ipaddress.NetmaskValueError:
        return f"'{cidr}' has a prefix length over 32", "give a prefix length of 0-32"
    except ValueError:
        network = ipaddress.IPv4Network(cidr, strict=False)
        return (
            f"'{cidr}' has host bits set: it is not the first address of its /{network.prefixlen}",
            f"use the network address, {network}",
        )
    return None


def _cidrs(ctx: CheckContext) -> Iterator[tuple[str, str, Path]]:
    network = ctx.config.security.network
    base: Path = ("security", "network")
    for i, authorized in enumerate(network.authorized_networks):
        what = f"authorized network '{authorized.name}'"
        yield what, authorized.cidr, (*base, "authorizedNetworks", i, "cidr")
    if network.master_cidr is not None:
        yield "masterCidr", network.master_cidr, (*base, "masterCidr")


@check
def cidr_blocks(ctx: CheckContext) -> Iterator[Diagnostic]:
    for what, cidr, path in _cidrs(ctx):
        problem = cidr_problem(cidr)
        if problem is not None:
            yield Diagnostic("E205", f"{what}: {problem[0]}", path=path, hint=problem[1])


@check
def master_prefix(ctx: CheckContext) -> Iterator[Diagnostic]:
    cidr = ctx.config.security.network.master_cidr
    if cidr is None or cidr_problem(cidr) is not None:
        return
    network = ipaddress.IPv4Network(cidr)
    if network.prefixlen != MASTER_PREFIX:
        example = ipaddress.IPv4Network((network.network_address, MASTER_PREFIX), strict=False)
        yield Diagnostic(
            "E205",
            f"masterCidr '{cidr}' is a /{network.prefixlen}, but GKE takes a /{MASTER_PREFIX} "
            "for the control plane",
            path=("security", "network", "masterCidr"),
            hint=f"use a /{MASTER_PREFIX}, e.g. {example}",
        )


@check
def subnetwork_region(ctx: CheckContext) -> Iterator[Diagnostic]:
    subnetwork = ctx.config.security.network.subnetwork
    found = re.fullmatch(SHARED_SUBNETWORK, subnetwork or "")
    if found and found[2] != ctx.target.region:
        yield Diagnostic(
            "E405",
            f"subnetwork '{subnetwork}' is in {found[2]}, but the cluster is in {ctx.target.region}",
            path=("security", "network", "subnetwork"),
            hint="write ${region} in the path, or set the subnetwork per region (regionOverrides)",
        )
