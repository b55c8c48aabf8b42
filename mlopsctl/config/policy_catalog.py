"""The catalog of policy ids: the built-in policies' titles and help, and the entry point group
through which teams add their own. Validation reads it to check the ids a config names; the
policies themselves live in :mod:`mlopsctl.policies`."""

from __future__ import annotations

from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "mlopsctl.policies"

FRAMEWORK = "MLP000"
BUILTINS: dict[str, tuple[str, str]] = {
    FRAMEWORK: (
        "policies",
        "A waiver has expired (warning), or a custom policy cannot be loaded or is not a valid policy id.",
    ),
    "MLP001": (
        "production replicas",
        "Every variant of a production endpoint keeps at least `minReplicas` replicas (default 2), "
        "both colours of a blue-green rollout included; the shadow of a shadow rollout, which only "
        "receives copies, and inference-graph steps, which take no replica settings, are exempt.",
    ),
    "MLP002": (
        "gradual rollout",
        "A production canary does not send all traffic to the candidate in its first step (100). "
        "Canaries with several steps, A/B splits, shadows and blue-green rollouts (both colours "
        "stay deployed, switching back is instant) are accepted.",
    ),
    "MLP003": (
        "canary first step",
        "A canary's first step sends at most `canaryMaxFirstStep` percent of traffic (default 10) "
        "to the candidate.",
    ),
    "MLP004": (
        "no public access",
        "Buckets enforce public access prevention, and no IAM resource grants allUsers or "
        "allAuthenticatedUsers. In production, endpoints are not published on an ingress gateway "
        "with a public IP address (`security.ingressGateway.exposure: external`).",
    ),
    "MLP005": (
        "CMEK in production",
        "In production, buckets, BigQuery datasets, the Artifact Registry repository, Vertex AI endpoints, "
        "model versions, model monitors, TensorBoards, metadata stores and feature online stores, Pub/Sub "
        "topics, and the GKE cluster's Secrets are encrypted with a customer-managed key.",
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
    "MLP011": (
        "private control plane",
        "The GKE cluster is private, and no authorized network of its control plane is wider than "
        "`authorizedNetworkMinPrefix` (default /16; 0.0.0.0/0 never passes).",
    ),
    "MLP012": ("strict mTLS", "The mesh's PeerAuthentication of the namespace is STRICT."),
    "MLP013": (
        "least privilege",
        "No service account holds a primitive role (roles/owner, roles/editor, roles/viewer), nor, "
        "project-wide, an admin role of a service that manages identities, keys, every secret or all data "
        "(IAM, Resource Manager, KMS, Cloud Storage, Secret Manager, BigQuery), or runs code as another "
        "service account (GKE, Compute Engine, Cloud Run, Cloud Functions, App Engine, Cloud Build, "
        "Deployment Manager, Vertex AI, Workbench, Dataflow, Dataproc, Composer, Batch, Workflows, Cloud "
        "Scheduler, Cloud Tasks), nor a role that runs builds, deployments or pods as other accounts "
        "(roles/cloudbuild.builds.editor and .builder, roles/deploymentmanager.editor, "
        "roles/container.developer), nor a role to act as any service account.",
    ),
    "MLP014": (
        "data stays in the project",
        "Buckets, datasets, tables and secrets are shared only with the project's own service "
        "accounts (allUsers and allAuthenticatedUsers are MLP004's).",
    ),
    "MLP015": (
        "narrow writes",
        "Endpoint and monitor identities write only the tables they write: no dataset-, bucket- or "
        "project-wide write role.",
    ),
    "MLP016": (
        "restricted workloads",
        "Every pod template of the compiled Kubernetes objects (Deployments, Jobs, CronJobs, "
        "InferenceService components, the Katib trials and training replicas that steps create) follows "
        "the restricted Pod Security Standard: no privileged container, host namespace, host port or "
        "hostPath volume, no privilege escalation, non-root and never user 0, ALL capabilities dropped "
        "and none added but NET_BIND_SERVICE, a RuntimeDefault or Localhost seccomp profile, no SELinux "
        "type but the container ones nor SELinux user or role, no unconfined AppArmor profile, no Windows "
        "host process, the default /proc mount, only safe sysctls, no probe aimed at another host; and "
        "mounts no Kubernetes API token. No Istio ALLOW AuthorizationPolicy has a rule admitting any "
        "caller (empty, or without `from` but for the retrain receiver's webhook), nor rules without a "
        "selector, which open every workload of its namespace. Cluster add-ons are not read.",
    ),
    "MLP017": (
        "no plaintext credentials",
        "No credential is written in plain text into what the config compiles to: no container "
        "environment variable named like one (…PASSWORD, …SECRET, …TOKEN, …API_KEY, …ACCESS_KEY, "
        "…PRIVATE_KEY, …CREDENTIALS) with a literal value, no URI with a password or a credential "
        "parameter, no string shaped like an AWS, GitHub, Slack or Google API key or a private key.",
    ),
}
"""Built-in policy id -> (title, explanation); docs/policies.md is generated from it."""
HELP: dict[str, tuple[str, str]] = {
    FRAMEWORK: (
        "A waiver is a decision with a date: once it expires the finding it hid is back, and a "
        "policy that cannot run enforces nothing.",
        "Renew the waiver with a new date and reason, or fix what it waived; name custom policies "
        "with a valid id distinct from the built-ins and make their modules importable.",
    ),
    "MLP001": (
        "With one replica a restart, a node upgrade or a preemption leaves the endpoint without "
        "capacity: requests fail until a new pod is ready.",
        "Set `minReplicas` to at least the configured minimum, for production only in "
        "`environments.<env>.overrides`.",
    ),
    "MLP002": (
        "A canary whose first step is 100 sends every request to an unproven version: it is a "
        "switch with no way to see errors before all users do.",
        "Give the canary several steps (e.g. `steps: [5, 25, 50, 100]`), or use blue-green to "
        "keep the previous version deployed for an instant switch back.",
    ),
    "MLP003": (
        "The first step decides how many users see a faulty candidate before anyone can react.",
        "Start with a smaller step, or raise `policies.canaryMaxFirstStep`.",
    ),
    "MLP004": (
        "Public buckets and grants to allUsers or allAuthenticatedUsers expose training data, "
        "models and predictions to anyone with a Google account, or to the internet; an external "
        "gateway lets anyone on the internet call the models, and it authenticates no client.",
        "Keep `publicAccessPrevention: enforced`, grant roles to service accounts or groups, and keep "
        "`security.ingressGateway.exposure: internal` (or waive MLP004 for that path with a reason).",
    ),
    "MLP005": (
        "With a customer-managed key the organisation can audit every use of the key and revoke "
        "access to the data by disabling it.",
        "Declare a key under `security.kms` and set `security.defaultKmsKey`.",
    ),
    "MLP006": (
        "Data residency obligations require data to stay in the regions the environment declares.",
        "Move the resource into one of the environment's regions, or allow a multi-region with "
        "`policies.allowedMultiRegions`.",
    ),
    "MLP007": (
        "Node pools larger than the accelerator quota fail to scale at the worst moment, and "
        "beyond it spend is unbounded.",
        "Lower `autoscaling.maxNodes` of the pools, or raise `policies.limits` where the quota allows.",
    ),
    "MLP008": (
        "Autoscaling can reach every pool's maximum size at once: that is the bill to plan for.",
        "Lower `autoscaling.maxNodes`, use spot nodes, or raise `policies.limits.<env>.monthlyBudget`.",
    ),
    "MLP009": (
        "A model whose inputs drift degrades silently: nothing fails, predictions just get worse.",
        "Add a monitor with `type: drift` and `endpoint: <name>`; it reads the request log.",
    ),
    "MLP010": (
        "Destroying or replacing a bucket, dataset or key ring loses the data in it.",
        "Restore the settings that force the replacement, or waive MLP010 for the resource with a "
        "reason and apply with `--allow-destroy`.",
    ),
    "MLP011": (
        "A public control plane, or one open to wide ranges, exposes the Kubernetes API to "
        "credential stuffing and to every new API-server vulnerability (GKE hardening guide).",
        "Keep `security.network.privateCluster: true` and list only the CI runners' and "
        "administrators' ranges under `security.network.authorizedNetworks`.",
    ),
    "MLP012": (
        "With PERMISSIVE mTLS any pod can call the model servers in plain text, unauthenticated, "
        "past the AuthorizationPolicies that rely on peer identities.",
        "Set `security.mtls: STRICT` once every client of the endpoints runs in the mesh.",
    ),
    "MLP013": (
        "Primitive roles grant thousands of permissions across every service, and project-wide "
        "admin or impersonation roles let one compromised workload take over the project.",
        "Remove the role from `security.serviceAccounts.<name>.roles`: mlopsctl grants each workload "
        "the predefined roles its references need, on those resources only.",
    ),
    "MLP014": (
        "A grant to a user, group, domain or another project's account shares the data outside "
        "what this config declares and reviews.",
        "Remove the grant; give access through a service account declared under `security.serviceAccounts`.",
    ),
    "MLP015": (
        "An endpoint or a monitor runs next to user traffic: if it is compromised, a dataset-wide "
        "write role lets it alter or delete training data and other tables.",
        "Grant `roles/bigquery.dataEditor` on the request-log or statistics tables it writes, not on "
        "their dataset; endpoints and monitors write no objects.",
    ),
    "MLP016": (
        "A privileged or root container, or one in the node's namespaces, can take over its node and every "
        "workload on it; a mounted token hands the Kubernetes API to code that never needs it; and an "
        "AuthorizationPolicy that admits any caller lets every pod of the mesh reach the model servers past "
        "the gateway. Template overrides arrive in pull requests: check reads what they compile to.",
        "Restore the security fields and `from` sources of the built-in template in the override under "
        "`project.templates`, or waive MLP016 for the resource with a reason.",
    ),
    "MLP017": (
        "A credential in mlops.yaml is copied into the plan, graph.json, the manifests and the deploy "
        "repository, and stays in their history: everyone who can read any of them can use it.",
        "Keep the value in Secret Manager and name it under the step's `secrets` (`NAME: <secret>`) in "
        "place of `env`; keep credentials out of URIs; then rotate the credential, as it has been committed.",
    ),
}
"""Built-in policy id -> (why the rule exists, how to fix a finding), for SARIF help and the docs."""
SECURITY = frozenset({"MLP011", "MLP012", "MLP013", "MLP014", "MLP015", "MLP016"})
"""Policies that are errors in production environments and warnings elsewhere, unless levels say otherwise."""


def entry_point_names() -> list[str]:
    """The ids of the installed custom policies (nothing is imported)."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
