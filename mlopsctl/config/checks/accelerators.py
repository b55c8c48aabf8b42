"""Cloud limits: regions, zones and the accelerators they offer, machine types, TPU topologies,
and CMEK key locations."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from mlopsctl.config import catalog
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.references import PoolUse, pool_uses
from mlopsctl.config.checks.resources import shape
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean
from mlopsctl.config.models.compute import CpuPool, GpuPool, TpuPool
from mlopsctl.config.models.security import KmsKey
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.wording import with_article

_KEY_LOCATION = re.compile(r"^projects/[^/]+/locations/([^/]+)/")
# The shape of a RegionName in mlopsctl.config.models.types: <area>-<direction><number>.
_REGION = re.compile(r"^(?P<area>[a-z]+)-(?P<direction>[a-z]+)(?P<number>[0-9]+)$")
_ATTACHED = ("n1-",)
"""Machine families that take GPUs only when a node pool attaches them."""


def _listed(items: Sequence[object]) -> str:
    return ", ".join(str(i) for i in items) or "none"


def _gpus(counts: Sequence[int], gpu_type: str) -> str:
    """``1 nvidia-l4 GPU``, ``1, 2, 4 nvidia-tesla-t4 GPUs``."""
    return f"{_listed(counts)} {gpu_type} GPU{'' if list(counts) == [1] else 's'}"


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions turning ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def _likely_typo(region: str, known: str) -> bool:
    """``region`` is ``known`` mistyped: at most two edits, the same number, and each word still
    recognisable. ``us-centrall1`` is a typo of ``us-central1``; ``europe-west2`` and ``me-west1``
    are other regions, not typos of ``europe-west4`` or ``us-west1``."""
    mine, theirs = _REGION.match(region), _REGION.match(known)
    if mine is None or theirs is None or mine["number"] != theirs["number"]:
        return False
    edits = {word: _edits(mine[word], theirs[word]) for word in ("area", "direction")}
    return sum(edits.values()) <= 2 and all(n < len(theirs[word]) for word, n in edits.items())


@check
def region_known(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A region outside the catalog is a warning: the catalog cannot list every region, so only
    what holds without it (zone names, one zone for a multi-host slice) is checked there."""
    env = ctx.config.environments.get(ctx.target.env)
    region, known = ctx.target.region, catalog.regions()
    if env is None or region not in env.regions or region in known:
        return
    suggestion = did_you_mean(region, [r for r in known if _likely_typo(region, r)])
    pools = [n for n, p in ctx.config.accelerators.items() if not isinstance(p, CpuPool) and not p.zones]
    unchecked = "zones and accelerators of its node pools are not checked" if ctx.config.accelerators else ""
    yield Diagnostic(
        "W401",
        f"region '{region}' is not in the accelerator catalog of {catalog.catalog().date}"
        + (f"; the {unchecked}" if unchecked else ""),
        path=("environments", ctx.target.env, "regions", env.regions.index(region)),
        hint=suggestion
        or (
            f"list the zones of {region} that offer the accelerators of node pools {_listed(pools)}: "
            "without zones they are placed in every zone of the cluster"
            if pools
            else "if the region is intended, nothing needs to change"
        ),
        severity=Severity.WARNING,
    )


def _unknown_region_zones(name: str, pool: GpuPool | TpuPool | CpuPool, region: str) -> Iterator[Diagnostic]:
    """What holds in a region outside the catalog: zones are named ``<region>-<letter>``, and a
    multi-host TPU slice needs one zone the catalog cannot choose."""
    for i, zone in enumerate(pool.zones):
        if not zone.startswith(f"{region}-"):
            yield Diagnostic(
                "E401",
                f"zone '{zone}' of node pool '{name}' is not in region '{region}'",
                path=("accelerators", name, "zones", i),
                hint=f"zones of {region} are named {region}-a, {region}-b, ...",
            )
    if isinstance(pool, TpuPool) and not pool.zones:
        tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
        date = catalog.catalog().date
        if tpu_slice is not None and tpu_slice.multi_host:
            yield Diagnostic(
                "E403",
                f"{with_article(pool.topology)} TPU {pool.version} slice must be in one zone, and region "
                f"'{region}' is not in the accelerator catalog of {date} to choose it (node pool '{name}')",
                path=("accelerators", name),
                hint=f"list the zone of {region} that offers TPU {pool.version} under zones",
            )


def _zones(
    name: str, zones: Sequence[str], region: str, what: str, offered: Sequence[str]
) -> Iterator[Diagnostic]:
    """Each listed zone is in ``region`` and offers ``what`` (one of the ``offered`` zones)."""
    region_zones = catalog.zones(region)
    for i, zone in enumerate(zones):
        path = ("accelerators", name, "zones", i)
        if zone not in region_zones:
            yield Diagnostic(
                "E401",
                f"zone '{zone}' of node pool '{name}' is not in region '{region}'",
                path=path,
                hint=did_you_mean(zone, region_zones) or f"zones of {region}: {_listed(region_zones)}",
            )
        elif offered and zone not in offered:
            yield Diagnostic(
                "E401",
                f"{what} is not offered in zone '{zone}' (node pool '{name}')",
                path=path,
                hint=f"zones of {region} that offer it: {_listed(offered)}",
            )


def _offered(name: str, pool: GpuPool | TpuPool, region: str) -> Iterator[Diagnostic]:
    if isinstance(pool, GpuPool):
        what, field = str(pool.accelerator), "accelerator"
        offered, elsewhere = catalog.gpu_zones(region, what), catalog.gpu_regions(what)
    else:
        what, field = f"TPU {pool.version}", "version"
        offered, elsewhere = catalog.tpu_zones(region, pool.version), catalog.tpu_regions(pool.version)
    if not offered:
        yield Diagnostic(
            "E401",
            f"{what} (node pool '{name}') is not offered in region '{region}'",
            path=("accelerators", name, field),
            hint=f"regions that offer it: {_listed(elsewhere)}",
        )
    yield from _zones(name, pool.zones, region, what, offered)


def _gpu_machine(name: str, pool: GpuPool) -> Iterator[Diagnostic]:
    allowed = catalog.gpu_machine_types(pool.accelerator)
    wanted = _gpus([pool.count], pool.accelerator)
    fitting = [m for m, counts in allowed.items() if pool.count in counts]
    machine, base = pool.machine_type, ("accelerators", name)
    if machine is not None and machine not in allowed:
        yield Diagnostic(
            "E402",
            f"machine type '{machine}' cannot carry {pool.accelerator} GPUs",
            path=(*base, "machineType"),
            hint=f"machine types for {wanted}: {_listed(fitting or list(allowed))}",
        )
    elif machine is not None and pool.count not in allowed[machine]:
        yield Diagnostic(
            "E402",
            f"machine type '{machine}' carries {_gpus(allowed[machine], pool.accelerator)}, not {pool.count}",
            path=(*base, "count"),
            hint=f"machine types for {wanted}: {_listed(fitting)}"
            if fitting
            else f"allowed counts: {_listed(catalog.gpu_counts(pool.accelerator))}",
        )
    elif machine is None and catalog.default_gpu_machine_type(pool.accelerator, pool.count) is None:
        yield Diagnostic(
            "E402",
            f"no machine type carries {wanted}",
            path=(*base, "count"),
            hint=f"allowed counts: {_listed(catalog.gpu_counts(pool.accelerator))}",
        )


def _built_in_gpus(machine: str) -> tuple[str, int] | None:
    """The GPU type and count built into ``machine``, or None. Compute Engine attaches GPUs to
    N1 VMs only on request; every other machine type of the GPU catalog (the accelerator-optimized
    a2, a3 and g2 families) has them whether asked for or not, one count per machine type."""
    if machine.startswith(_ATTACHED):
        return None
    for gpu_type, gpu in catalog.catalog().gpus.items():
        if machine in gpu.machine_types and len(counts := gpu.machine_types[machine].counts) == 1:
            return gpu_type, counts[0]
    return None


def _cpu_machine(name: str, pool: CpuPool) -> Iterator[Diagnostic]:
    """A CPU pool on a machine type with GPUs or TPU chips built in compiles without the
    accelerator's taint (and GPU drivers or TPU slice): the accelerators sit unused, and pods that
    request none land on the costly nodes."""
    machine = pool.machine_type
    tpus = [v for v, tpu in catalog.catalog().tpus.items() if machine in tpu.chips_per_host]
    if (gpus := _built_in_gpus(machine)) is not None:
        gpu_type, count = gpus
        kind, has, fields = "GPU", _gpus([count], gpu_type), f"accelerator: {gpu_type}, count: {count}"
        vcpus = catalog.catalog().gpus[gpu_type].machine_types[machine].vcpus
        plain = f"n2-standard-{vcpus}" if shape(f"n2-standard-{vcpus}") else "n2-standard-8"
        lacks = "no GPU taint and no GPU driver installation"
    elif tpus:
        shapes = [
            t for t in catalog.tpu_topologies(tpus[0]) if machine in catalog.tpu_machine_types(tpus[0], t)
        ]
        larger = " or larger" if len(shapes) > 1 else ""
        kind, has = "TPU", f"TPU {tpus[0]} chips"
        fields = f"version: {tpus[0]}, topology: {shapes[0]}{larger}" if shapes else f"version: {tpus[0]}"
        plain, lacks = "n2-standard-8", "no TPU taint and no slice topology"
    else:
        return
    yield Diagnostic(
        "E402",
        f"node pool '{name}' is a CPU pool on machine type '{machine}', which has {has} built in: "
        f"the pool gets {lacks}, so pods without {kind} requests land on its nodes",
        path=("accelerators", name, "machineType"),
        hint=f"declare it as a {kind} pool (type: {kind.lower()}, {fields}), or choose a machine type "
        f"without accelerators, e.g. {plain}",
    )


def _tpu_slice(name: str, pool: TpuPool) -> Iterator[Diagnostic]:
    topologies = catalog.tpu_topologies(pool.version)
    base: Path = ("accelerators", name)
    if pool.topology not in topologies:
        yield Diagnostic(
            "E403",
            f"topology '{pool.topology}' is not valid for TPU {pool.version}",
            path=(*base, "topology"),
            hint=f"topologies of {pool.version}: {_listed(topologies)}",
        )
        return
    tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
    if tpu_slice is None:
        allowed = catalog.tpu_machine_types(pool.version, pool.topology)
        yield Diagnostic(
            "E402",
            f"machine type '{pool.machine_type}' cannot form {with_article(pool.topology)} TPU "
            f"{pool.version} slice",
            path=(*base, "machineType"),
            hint=f"machine types for this slice: {_listed(allowed)}",
        )
    elif tpu_slice.multi_host and (zones := len(set(pool.zones))) > 1:  # a zone listed twice is E205
        yield Diagnostic(
            "E403",
            f"{with_article(pool.topology)} TPU {pool.version} slice on {tpu_slice.machine_type} spans "
            f"{tpu_slice.hosts} hosts, which must be in one zone; node pool '{name}' lists {zones}",
            path=(*base, "zones"),
            hint="list one zone (without zones, the first zone of the region that offers it is used)",
        )


@check
def node_pools(ctx: CheckContext) -> Iterator[Diagnostic]:
    region = ctx.target.region
    known = region in catalog.regions()
    for name, pool in ctx.config.accelerators.items():
        if isinstance(pool, GpuPool):
            yield from _gpu_machine(name, pool)
        elif isinstance(pool, TpuPool):
            yield from _tpu_slice(name, pool)
        else:
            yield from _cpu_machine(name, pool)
        if not known:
            yield from _unknown_region_zones(name, pool, region)
        elif isinstance(pool, CpuPool):
            yield from _zones(name, pool.zones, region, "", [])
        else:
            yield from _offered(name, pool, region)


def _per_node(use: PoolUse, pool: GpuPool | TpuPool | CpuPool | None) -> Iterator[Diagnostic]:
    """A workload requests no more accelerators than one node of its pool has."""
    wanted, path = use.accelerators, use.accelerators_path
    accelerators = f"{wanted} accelerator{'' if wanted == 1 else 's'}"
    if pool is None:
        yield Diagnostic(
            "E402",
            f"{use.owner} requests {accelerators} but names no node pool",
            path=path,
            hint="set nodePool to a GPU or TPU pool under accelerators",
        )
    elif isinstance(pool, CpuPool):
        yield Diagnostic(
            "E402",
            f"{use.owner} requests {accelerators}, but node pool '{use.pool}' is a CPU pool",
            path=path,
            hint="set nodePool to a GPU or TPU pool, or request no accelerators",
        )
    elif isinstance(pool, GpuPool) and wanted > pool.count:
        yield Diagnostic(
            "E402",
            f"{use.owner} requests {wanted} GPUs, but nodes of pool '{use.pool}' have {pool.count}",
            path=path,
            hint=f"request at most {pool.count}, or raise count of node pool '{use.pool}'",
        )
    elif isinstance(pool, TpuPool):
        tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
        if tpu_slice is not None and wanted > tpu_slice.chips_per_host:
            yield Diagnostic(
                "E402",
                f"{use.owner} requests {wanted} TPU chips, but nodes of pool '{use.pool}' "
                f"({tpu_slice.machine_type}) have {tpu_slice.chips_per_host}",
                path=path,
                hint=f"request at most {tpu_slice.chips_per_host} chips per pod",
            )


@check
def workload_accelerators(ctx: CheckContext) -> Iterator[Diagnostic]:
    pools = ctx.config.accelerators
    for use in pool_uses(ctx.config):
        if use.accelerators and (use.pool is None or use.pool in pools):
            yield from _per_node(use, pools[use.pool] if use.pool else None)


def key_location(key: KmsKey) -> str | None:
    """Where a CMEK key lives: its ``location``, or the location in the path of an existing key."""
    if key.location:
        return key.location
    match = _KEY_LOCATION.match(key.key or "")
    return match[1] if match else None


@check
def cmek_locations(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A CMEK key must be in the location of every bucket, dataset and repository it protects."""
    security, data = ctx.config.security, ctx.config.data
    stores = [
        *(("bucket", "buckets", n, b.location, b.kms_key) for n, b in data.buckets.items()),
        *(("dataset", "datasets", n, d.location, d.kms_key) for n, d in data.datasets.items()),
    ]
    default = security.kms.get(security.default_kms_key) if security.default_kms_key else None
    where = key_location(default) if default else None
    if where is not None and where.lower() != ctx.target.region:
        yield Diagnostic(
            "E405",
            f"the default KMS key '{security.default_kms_key}' is in {where}, but what it protects by "
            f"default (the Artifact Registry repository, Vertex AI's resources, Pub/Sub topics) is in "
            f"{ctx.target.region}",
            path=("security", "defaultKmsKey"),
            hint=f"CMEK keys must be in the location of what they protect: use a key in {ctx.target.region}",
        )
    for kind, section, name, location, explicit_key in stores:
        key_name = explicit_key or security.default_kms_key
        key = security.kms.get(key_name) if key_name else None
        where = key_location(key) if key else None
        here = location or ctx.target.region
        if where is None or where.lower() == here.lower():
            continue
        path: Path = ("data", section, name, "kmsKey") if explicit_key else ("data", section, name)
        yield Diagnostic(
            "E405",
            f"{kind} '{name}' is in {here}, but its KMS key '{key_name}' is in {where}",
            path=path,
            hint=f"CMEK keys must be in the same location as the data they protect: use a key in {here}",
        )
