from __future__ import annotations

import pytest

from mlopsctl.compiler.alerting import ALERT_POLICY, NOTIFICATION_CHANNEL
from mlopsctl.compiler.apis import SERVICE
from mlopsctl.compiler.bigquery import DATASET, TABLE
from mlopsctl.compiler.cluster import CLUSTER, NODE_POOL, ROUTER, ROUTER_NAT
from mlopsctl.compiler.context import kubernetes_type
from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER, PROJECT_IAM_MEMBER, SECRET_IAM_MEMBER
from mlopsctl.compiler.identity import GSA, GSA_IAM_MEMBER, NAMESPACE
from mlopsctl.compiler.kms import CRYPTO_KEY, CRYPTO_KEY_IAM_MEMBER, KEY_RING
from mlopsctl.compiler.registry import REPOSITORY, REPOSITORY_IAM_MEMBER
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.graph import JSON
from mlopsctl.plan.resource_types import REPLACE_ON, replace_on, replace_paths

PIPELINE_VERSION = kubernetes_type("pipelines.kubeflow.org/v2beta1", "PipelineVersion")
DEPLOYMENT = kubernetes_type("apps/v1", "Deployment")
UNKNOWN = "gcp:pubsub/schema:Schema"  # a type mlopsctl does not emit: no rules


def inputs(dotted: str, value: JSON) -> dict[str, JSON]:
    """Inputs holding ``value`` at ``dotted``, next to an input that never changes."""
    head, _, rest = dotted.partition(".")
    return {"kept": "same", head: inputs(rest, value) if rest else value}


# (type, input path): changing the input replaces the resource.
FORCING = [
    *[(BUCKET, p) for p in ("name", "location", "project", "enableObjectRetention", "hierarchicalNamespace")],
    (BUCKET, "customPlacementConfig.dataLocations"),
    *[(DATASET, p) for p in ("datasetId", "location", "project", "externalDatasetReference")],
    *[(TABLE, p) for p in ("datasetId", "tableId", "project", "encryptionConfiguration")],
    (TABLE, "timePartitioning.field"),
    (TABLE, "rangePartitioning.field"),
    (GSA, "accountId"),
    (GSA, "project"),
    *[(GSA_IAM_MEMBER, p) for p in ("serviceAccountId", "role", "member", "condition")],
    *[(KEY_RING, p) for p in ("name", "location", "project")],
    *[(CRYPTO_KEY, p) for p in ("name", "keyRing", "purpose", "importOnly", "destroyScheduledDuration")],
    (CRYPTO_KEY, "versionTemplate.protectionLevel"),
    *[(BUCKET_IAM_MEMBER, p) for p in ("bucket", "role", "member", "condition")],
    *[(DATASET_IAM_MEMBER, p) for p in ("datasetId", "project", "role", "member", "condition")],
    *[(SECRET_IAM_MEMBER, p) for p in ("secretId", "project", "role", "member", "condition")],
    *[(PROJECT_IAM_MEMBER, p) for p in ("project", "role", "member", "condition")],
    *[(CRYPTO_KEY_IAM_MEMBER, p) for p in ("cryptoKeyId", "role", "member", "condition")],
    (NOTIFICATION_CHANNEL, "project"),
    (ALERT_POLICY, "project"),
    *[(CLUSTER, p) for p in ("name", "location", "project", "network", "subnetwork", "enableAutopilot")],
    *[(NODE_POOL, p) for p in ("name", "cluster", "location", "initialNodeCount", "maxPodsPerNode")],
    *[(NODE_POOL, f"nodeConfig.{p}") for p in ("guestAccelerators", "spot", "serviceAccount", "oauthScopes")],
    *[(CLUSTER, p) for p in ("initialNodeCount", "networkingMode", "ipAllocationPolicy", "datapathProvider")],
    (CLUSTER, "privateClusterConfig.masterIpv4CidrBlock"),
    (CLUSTER, "nodeConfig.serviceAccount"),
    (NODE_POOL, "placementPolicy"),
    *[(REPOSITORY, p) for p in ("repositoryId", "location", "project", "format", "mode", "kmsKeyName")],
    *[(REPOSITORY_IAM_MEMBER, p) for p in ("repository", "location", "project", "role", "member")],
    *[(PROJECT_IAM_MEMBER, p) for p in ("project", "role", "member", "condition")],
    *[(PIPELINE_VERSION, p) for p in ("spec", "metadata.name", "metadata.namespace")],
    (NAMESPACE, "metadata.name"),
    (DEPLOYMENT, "metadata.namespace"),
    (DEPLOYMENT, "spec.selector"),
    (kubernetes_type("serving.kserve.io/v1beta1", "InferenceService"), "metadata.annotations"),
]

# (type, input path): the provider changes the input in place.
# Every input of an IAM member and of a key ring forces replacement: they have no such case.
IN_PLACE = [
    *[(BUCKET, p) for p in ("labels", "storageClass", "lifecycleRules", "forceDestroy")],
    *[(BUCKET, p) for p in ("versioning.enabled", "retentionPolicy.retentionPeriod")],
    (BUCKET, "encryption.defaultKmsKeyName"),
    *[(DATASET, p) for p in ("labels", "description", "defaultEncryptionConfiguration")],
    *[(TABLE, p) for p in ("schema", "labels", "clusterings", "deletionProtection")],
    (TABLE, "timePartitioning.expirationMs"),
    (GSA, "displayName"),
    (GSA, "description"),
    *[(CRYPTO_KEY, p) for p in ("rotationPeriod", "labels", "skipInitialVersionCreation")],
    (CRYPTO_KEY, "versionTemplate.algorithm"),
    *[(NOTIFICATION_CHANNEL, p) for p in ("type", "labels", "sensitiveLabels", "displayName", "enabled")],
    *[(ALERT_POLICY, p) for p in ("conditions", "notificationChannels", "severity", "documentation")],
    *[(CLUSTER, p) for p in ("resourceLabels", "releaseChannel", "maintenancePolicy", "deletionProtection")],
    *[(CLUSTER, p) for p in ("masterAuthorizedNetworksConfig", "secretManagerConfig")],
    *[(NODE_POOL, p) for p in ("nodeLocations", "upgradeSettings", "management")],
    *[(REPOSITORY, p) for p in ("labels", "description", "cleanupPolicies", "dockerConfig.immutableTags")],
    *[(NODE_POOL, p) for p in ("nodeCount", "autoscaling", "nodeConfig.machineType", "nodeConfig.labels")],
    (NODE_POOL, "nodeConfig.taints"),
    (PIPELINE_VERSION, "metadata.labels"),
    (NAMESPACE, "metadata.labels"),
    (DEPLOYMENT, "spec.replicas"),
    (UNKNOWN, "name"),
]


@pytest.mark.parametrize(("type_", "path"), FORCING)
def test_changing_a_forcing_input_replaces(type_: str, path: str) -> None:
    assert replace_paths(type_, inputs(path, "a"), inputs(path, "b")) == (path,)


@pytest.mark.parametrize(("type_", "path"), FORCING)
def test_setting_or_removing_a_forcing_input_replaces(type_: str, path: str) -> None:
    assert replace_paths(type_, {"kept": "same"}, inputs(path, "b")) == (path,)
    assert replace_paths(type_, inputs(path, "a"), {"kept": "same"}) == (path,)


@pytest.mark.parametrize(("type_", "path"), IN_PLACE)
def test_changing_another_input_updates_in_place(type_: str, path: str) -> None:
    assert replace_paths(type_, inputs(path, "a"), inputs(path, "b")) == ()


@pytest.mark.parametrize(
    ("type_", "before", "after", "expected"),
    [
        (BUCKET, {"name": "a", "location": "US"}, {"name": "b", "location": "EU"}, ("location", "name")),
        (BUCKET, {"name": "a", "labels": {"x": "1"}}, {"name": "b", "labels": {"x": "2"}}, ("name",)),
        # Absent and null differ.
        (BUCKET, {"name": "a"}, {"name": "a", "project": None}, ("project",)),
        # A change anywhere under a forcing path counts, reported at that path.
        (GSA_IAM_MEMBER, {"condition": {"title": "t"}}, {"condition": {"title": "u"}}, ("condition",)),
        (PIPELINE_VERSION, {"spec": {"a": [1, 2]}}, {"spec": {"a": [2, 1]}}, ("spec",)),
        (NODE_POOL, {"nodeConfig": {"spot": True}}, {"nodeConfig": {"spot": True}}, ()),
        # A value that is not a map has no entries under it.
        (TABLE, {"timePartitioning": "x"}, {"timePartitioning": "y"}, ()),
    ],
)
def test_replace_paths(
    type_: str, before: dict[str, JSON], after: dict[str, JSON], expected: tuple[str, ...]
) -> None:
    assert replace_paths(type_, before, after) == expected


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        (NAMESPACE, ("metadata.name", "metadata.namespace")),
        ("kubernetes:networking.istio.io/v1:VirtualService", ("metadata.name", "metadata.namespace")),
        (PIPELINE_VERSION, ("metadata.name", "metadata.namespace", "spec")),
        (
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            ("metadata.name", "metadata.namespace", "roleRef"),
        ),
        (UNKNOWN, ()),
    ],
)
def test_replace_on(type_: str, expected: tuple[str, ...]) -> None:
    assert replace_on(type_) == expected


@pytest.mark.parametrize(
    "type_",
    [
        *(BUCKET, DATASET, TABLE, GSA, GSA_IAM_MEMBER, KEY_RING, CRYPTO_KEY, CRYPTO_KEY_IAM_MEMBER),
        *(BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER, SECRET_IAM_MEMBER, PROJECT_IAM_MEMBER),
        *(NOTIFICATION_CHANNEL, ALERT_POLICY, CLUSTER, NODE_POOL, REPOSITORY, REPOSITORY_IAM_MEMBER),
        *(ROUTER, ROUTER_NAT, SERVICE),
    ],
)
def test_every_cloud_type_the_build_emits_has_rules(type_: str) -> None:
    assert type_ in REPLACE_ON


def test_rules_are_sorted_by_type() -> None:
    assert list(REPLACE_ON) == sorted(REPLACE_ON)


def test_rules_name_each_path_once() -> None:
    assert all(len(set(paths)) == len(paths) for paths in REPLACE_ON.values())
