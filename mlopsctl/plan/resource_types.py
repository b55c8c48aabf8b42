"""What the providers do with each resource type, keyed by Pulumi type token.

Only the facts the plan needs: which input paths cannot be changed in place,
so that changing them replaces the resource (delete, then create). Paths are
dotted paths into the inputs (``metadata.name``); a path names a whole value,
so any change under it counts. A new type is one entry.

The GCP entries follow the provider schemas behind pulumi-gcp (the inputs
marked ForceNew / immutable there). Replacements decided by comparing values
at plan time (a BigQuery schema losing a column, unlocking a retention policy)
are not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlopsctl.graph import JSON, canonical_json

# A Kubernetes object is identified by its name and namespace.
_KUBERNETES_IDENTITY = ("metadata.name", "metadata.namespace")

# The parts of a GKE node configuration that only a new node pool can change. Not kubeletConfig: the
# provider updates it in place (GKE then recreates the nodes by the pool's upgrade settings), as it
# does a cluster's nodePoolDefaults and databaseEncryption.
_NODE_CONFIG_FORCES = tuple(
    f"nodeConfig.{key}"
    for key in (
        "bootDiskKmsKey",
        "guestAccelerators",
        "localSsdCount",
        "metadata",
        "minCpuPlatform",
        "oauthScopes",
        "preemptible",
        "reservationAffinity",
        "serviceAccount",
        "shieldedInstanceConfig",
        "spot",
    )
)

# Exact type token -> input paths whose change forces replacement.
REPLACE_ON: Mapping[str, tuple[str, ...]] = {
    # Only the tag-immutability and cleanup settings of a repository can change in place.
    "gcp:artifactregistry/repository:Repository": (
        "repositoryId",
        "location",
        "project",
        "format",
        "mode",
        "kmsKeyName",
    ),
    # A binding has no update: any change is a new member.
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (
        "repository",
        "location",
        "project",
        "role",
        "member",
        "condition",
    ),
    "gcp:bigquery/dataset:Dataset": ("datasetId", "location", "project", "externalDatasetReference"),
    "gcp:bigquery/datasetIamMember:DatasetIamMember": ("datasetId", "project", "role", "member", "condition"),
    "gcp:bigquery/iamMember:IamMember": ("datasetId", "tableId", "project", "role", "member", "condition"),
    "gcp:bigquery/table:Table": (
        "datasetId",
        "tableId",
        "project",
        "encryptionConfiguration",
        "timePartitioning.field",
        "rangePartitioning.field",
    ),
    "gcp:cloudrunv2/job:Job": ("name", "location", "project"),
    "gcp:cloudrunv2/jobIamMember:JobIamMember": (
        "name",
        "location",
        "project",
        "role",
        "member",
        "condition",
    ),
    "gcp:cloudscheduler/job:Job": ("name", "region", "project"),
    "gcp:compute/router:Router": ("name", "network", "region", "project"),
    "gcp:compute/routerNat:RouterNat": ("name", "router", "region", "project"),
    # The default node pool's configuration is fixed at creation, even after its removal.
    "gcp:container/cluster:Cluster": (
        "name",
        "location",
        "project",
        "network",
        "subnetwork",
        "enableAutopilot",
        "initialNodeCount",
        "networkingMode",
        "ipAllocationPolicy",
        "datapathProvider",
        "privateClusterConfig.masterIpv4CidrBlock",
        *_NODE_CONFIG_FORCES,
    ),
    "gcp:container/nodePool:NodePool": (
        "name",
        "namePrefix",
        "cluster",
        "location",
        "project",
        "initialNodeCount",
        "maxPodsPerNode",
        "placementPolicy",
        *_NODE_CONFIG_FORCES,
    ),
    # skipInitialVersionCreation only matters at creation and is no longer ForceNew.
    # A trigger's transport (its topic) cannot change: Eventarc made the subscription for it.
    "gcp:eventarc/trigger:Trigger": ("name", "location", "project", "transport"),
    "gcp:kms/cryptoKey:CryptoKey": (
        "name",
        "keyRing",
        "purpose",
        "importOnly",
        "destroyScheduledDuration",
        "cryptoKeyBackend",
        "versionTemplate.protectionLevel",
    ),
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": ("cryptoKeyId", "role", "member", "condition"),
    "gcp:kms/keyRing:KeyRing": ("name", "location", "project"),
    "gcp:monitoring/alertPolicy:AlertPolicy": ("project",),
    "gcp:monitoring/notificationChannel:NotificationChannel": ("project",),
    "gcp:projects/iAMMember:IAMMember": ("project", "role", "member", "condition"),
    "gcp:projects/service:Service": ("service", "project"),
    "gcp:projects/serviceIdentity:ServiceIdentity": ("service", "project"),
    "gcp:pubsub/subscription:Subscription": ("name", "project", "topic"),
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": (
        "subscription",
        "project",
        "role",
        "member",
        "condition",
    ),
    "gcp:pubsub/topic:Topic": ("name", "project"),
    "gcp:pubsub/topicIAMMember:TopicIAMMember": ("topic", "project", "role", "member", "condition"),
    "gcp:secretmanager/secretIamMember:SecretIamMember": (
        "secretId",
        "project",
        "role",
        "member",
        "condition",
    ),
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
    "gcp:serviceaccount/iAMMember:IAMMember": ("serviceAccountId", "role", "member", "condition"),
    "gcp:storage/bucket:Bucket": (
        "name",
        "location",
        "project",
        "customPlacementConfig.dataLocations",
        "enableObjectRetention",
        "hierarchicalNamespace",
    ),
    # An IAM member (of a bucket, dataset, key, secret or project) has no update: any change is a new member.
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("bucket", "role", "member", "condition"),
    "gcp:storage/bucketObject:BucketObject": ("bucket", "name", "content", "contentType"),
    "gcp:vertex/aiEndpoint:AiEndpoint": (
        "location",
        "name",
        "network",
        "project",
        "region",
        "encryptionSpec",
        "privateServiceConnectConfig.enablePrivateServiceConnect",
    ),
    "gcp:vertex/aiFeatureGroup:AiFeatureGroup": ("name", "region", "project", "bigQuery.bigQuerySource"),
    "gcp:vertex/aiFeatureGroupFeature:AiFeatureGroupFeature": ("name", "featureGroup", "region", "project"),
    "gcp:vertex/aiFeatureOnlineStore:AiFeatureOnlineStore": ("name", "region", "project", "encryptionSpec"),
    "gcp:vertex/aiFeatureOnlineStoreFeatureview:AiFeatureOnlineStoreFeatureview": (
        "name",
        "featureOnlineStore",
        "region",
        "project",
        "vectorSearchConfig",
    ),
    "gcp:vertex/aiFeatureOnlineStoreFeatureviewIamMember:AiFeatureOnlineStoreFeatureviewIamMember": (
        "project",
        "region",
        "featureOnlineStore",
        "featureView",
        "role",
        "member",
        "condition",
    ),
    # A metadata store has no update: any change is a new store (and the old one's lineage is lost).
    "gcp:vertex/aiMetadataStore:AiMetadataStore": (
        "name",
        "region",
        "project",
        "description",
        "encryptionSpec",
    ),
    "gcp:vertex/aiTensorboard:AiTensorboard": ("region", "project", "encryptionSpec"),
    "gcp:workflows/workflow:Workflow": ("name", "region", "project"),
    # A Deployment's selector is immutable.
    "kubernetes:apps/v1:Deployment": (*_KUBERNETES_IDENTITY, "spec.selector"),
    "kubernetes:batch/v1:CronJob": _KUBERNETES_IDENTITY,
    "kubernetes:core/v1:Service": _KUBERNETES_IDENTITY,
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": _KUBERNETES_IDENTITY,
    # Kubeflow rejects any change to a PipelineVersion's spec.
    "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion": (*_KUBERNETES_IDENTITY, "spec"),
    "kubernetes:rbac.authorization.k8s.io/v1:Role": _KUBERNETES_IDENTITY,
    # The API server refuses to change the role a binding refers to.
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": (*_KUBERNETES_IDENTITY, "roleRef"),
    "kubernetes:serving.kserve.io/v1alpha1:InferenceGraph": _KUBERNETES_IDENTITY,
    # KServe refuses to change an InferenceService's deployment mode in place.
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": (*_KUBERNETES_IDENTITY, "metadata.annotations"),
    # mlopsctl's Vertex AI resources (docs/vertex-resources.md): a new artifact is a new version.
    "mlopsctl:vertex/deployment:Deployment": ("project", "location", "endpoint"),
    "mlopsctl:vertex/modelMonitor:ModelMonitor": ("project", "location", "displayName", "model"),
    "mlopsctl:vertex/modelVersion:ModelVersion": (
        "project",
        "location",
        "modelId",
        "artifactUri",
        "containerImageUri",
        "containerPorts",
        "predictRoute",
        "healthRoute",
        "containerEnv",
    ),
}

FORCED: Mapping[str, tuple[str, ...]] = {
    "gcp:vertex/aiFeatureOnlineStore:AiFeatureOnlineStore": ("encryptionSpec",),
}
"""Paths of REPLACE_ON that the provider would update in place although the API takes them only when the
resource is created (Vertex AI's key of an online store): the Pulumi program replaces on their change
(``replaceOnChanges``), as the plan shows."""

# Type token prefix -> the rule for every token under it without an exact entry.
REPLACE_ON_PREFIX: Mapping[str, tuple[str, ...]] = {
    "kubernetes:": _KUBERNETES_IDENTITY,
}


def replace_on(type_token: str) -> tuple[str, ...]:
    """The input paths of ``type_token`` that force replacement (longest prefix wins)."""
    if type_token in REPLACE_ON:
        return REPLACE_ON[type_token]
    prefixes = [p for p in REPLACE_ON_PREFIX if type_token.startswith(p)]
    return REPLACE_ON_PREFIX[max(prefixes, key=len)] if prefixes else ()


def replace_paths(type_token: str, before: Mapping[str, JSON], after: Mapping[str, JSON]) -> tuple[str, ...]:
    """The replacement-forcing paths whose value differs between ``before`` and ``after``, sorted."""
    return tuple(sorted(p for p in replace_on(type_token) if _at(before, p) != _at(after, p)))


def _at(inputs: Mapping[str, JSON], dotted: str) -> str | None:
    """The canonical JSON of the value at ``dotted``; None when absent (which differs from ``null``)."""
    value: JSON = inputs
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return canonical_json(value)
