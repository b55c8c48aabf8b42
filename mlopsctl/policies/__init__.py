"""Policy gates over the compiled resource graph, for ``mlopsctl check`` (docs/policies.md).

A policy is a function of a :class:`PolicyContext` (one target: its graph, its validated
config and, when ``check`` compares with state, the plan's changes to it) that yields
:class:`Finding`\\ s. The runner gives each finding its policy's id and level, places it in
mlops.yaml and drops the waived ones. Built-ins are registered with :func:`policy`; teams
add their own through the ``mlopsctl.policies`` entry point group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.policies import Policies
from mlopsctl.graph import Graph, Resource, Target
from mlopsctl.plan import TargetPlan
from mlopsctl.sourcemap import Path

ENTRY_POINT_GROUP = "mlopsctl.policies"


@dataclass(frozen=True)
class Finding:
    """What a policy found: about a resource of the graph (``address``), a place in
    mlops.yaml (``path``), or both. Without ``path`` the resource's source is used."""

    message: str
    hint: str | None = None
    address: str | None = None
    path: Path = ()


@dataclass(frozen=True)
class PolicyContext:
    target: Target
    graph: Graph
    config: MLOpsConfig
    """The validated config, for intent the graph does not show (rollout strategies, monitors)."""
    plan: TargetPlan | None = None
    """The changes to this target, when ``check`` compares with state (``--repo``, ``--base``)."""

    @property
    def settings(self) -> Policies:
        return self.config.policies

    @property
    def production(self) -> bool:
        return self.target.env in self.settings.production

    def of_type(self, *type_tokens: str) -> list[Resource]:
        return [r for r in self.graph if r.type in type_tokens]


PolicyFunction = Callable[[PolicyContext], Iterable[Finding]]


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    description: str
    check: PolicyFunction
    origin: str = "built-in"
    """Where the policy comes from: built-in, or its entry point (``name = module:function``)."""


FRAMEWORK = "MLP000"
BUILTINS: dict[str, tuple[str, str]] = {
    FRAMEWORK: (
        "policies",
        "A waiver has expired (warning), or a custom policy cannot be loaded or is not a valid policy id.",
    ),
    "MLP001": (
        "production replicas",
        "Every InferenceService of a production endpoint keeps at least `minReplicas` replicas "
        "(default 2); the shadow of a shadow rollout, which only receives copies, is exempt.",
    ),
    "MLP002": (
        "gradual rollout",
        "A production endpoint does not switch all traffic at once: no blue-green rollout and no "
        "canary whose first step is 100. Canaries with several steps, A/B splits and shadows "
        "count as gradual.",
    ),
    "MLP003": (
        "canary first step",
        "A canary's first step sends at most `canaryMaxFirstStep` percent of traffic (default 10) "
        "to the candidate.",
    ),
    "MLP004": (
        "no public access",
        "Buckets enforce public access prevention, and no IAM resource grants allUsers or "
        "allAuthenticatedUsers.",
    ),
    "MLP005": (
        "CMEK in production",
        "In production, buckets, BigQuery datasets and the Artifact Registry repository are encrypted "
        "with a customer-managed key.",
    ),
    "MLP006": (
        "data residency",
        "Every resource location (bucket, dataset, key ring, repository, cluster, node zones) lies in "
        "the environment's regions; multi-regions only when `allowedMultiRegions` lists them.",
    ),
    "MLP007": (
        "accelerator limits",
        "In each region, GPUs (max nodes x GPUs per node) and TPU chips over all node pools stay "
        "within the environment's `limits`.",
    ),
    "MLP008": (
        "monthly budget",
        "In each region, the node pools' estimated monthly cost at maximum size stays within the "
        "environment's `limits.monthlyBudget`.",
    ),
    "MLP009": (
        "drift monitor",
        "Every production endpoint has a drift monitor.",
    ),
    "MLP010": (
        "protected resources",
        "The plan destroys or replaces no protected resource (only when `check` compares with state: "
        "--repo or --base).",
    ),
}
"""Built-in policy id -> (title, explanation); docs/policies.md is generated from it."""
_REGISTERED: dict[str, PolicyFunction] = {}


def policy(policy_id: str) -> Callable[[PolicyFunction], PolicyFunction]:
    """Register a built-in policy under an id of :data:`BUILTINS`."""
    if policy_id not in BUILTINS:
        raise ValueError(f"unlisted policy id {policy_id}")

    def register(fn: PolicyFunction) -> PolicyFunction:
        _REGISTERED[policy_id] = fn
        return fn

    return register


def builtin_policies() -> list[Policy]:
    from mlopsctl.policies import capacity, data, protection, serving  # noqa: F401  (registrations)

    return [Policy(i, *BUILTINS[i], check=fn) for i, fn in sorted(_REGISTERED.items())]


def policies_markdown() -> str:
    """The table of built-in policies, as kept in docs/policies.md."""
    lines = ["| id | policy | what it checks |", "| --- | --- | --- |"]
    lines += [f"| {i} | {title} | {text} |" for i, (title, text) in sorted(BUILTINS.items())]
    return "\n".join(lines) + "\n"
