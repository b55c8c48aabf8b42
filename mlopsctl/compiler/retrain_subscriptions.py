"""The pull subscription through which the cluster takes a retraining monitor's alerts, and its dead letters.

A monitor on Vertex AI that retrains pipelines on Kubeflow Pipelines publishes its alerts to its topic
(:mod:`mlopsctl.compiler.vertex_retrain`); the cluster's retrain receiver pulls them from the monitor's
subscription (:data:`PULL`), acknowledging a message once its runs started and refusing it (ack deadline
0) when they could not be, so that Pub/Sub redelivers it. A message the receiver can never handle would
come back for as long as it is kept; after :data:`MAX_DELIVERY_ATTEMPTS` deliveries Pub/Sub forwards it
to the monitor's dead-letter topic instead, whose subscription keeps it for inspection and replay
(:data:`DEAD_LETTERS`: a topic without subscriptions drops what is published to it).

The dead letters are the monitor's own, as the rest of its chain is: a dead message is replayed by
publishing it to the topic of the monitor it came from, and removing a monitor removes its dead letters
with it. Idle topics and subscriptions cost nothing.

Pub/Sub forwards as its service agent (``service-NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com``), which
may publish to the dead-letter topic and pull (so acknowledge what it forwards) from the monitor's
subscription, nothing more. Without both, Pub/Sub neither counts deliveries nor forwards. Both grants
take the agent from its ServiceIdentity (:func:`mlopsctl.compiler.apis.service_agent`), which makes it
exist first: a project may have none yet, and IAM refuses a grant to an account that does not exist.
The topic has what the monitor's alert topic has: labels, and Google's encryption.
"""

from __future__ import annotations

from mlopsctl.compiler.apis import service_agent
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.kms import default_key
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource, fn_output

TOPIC = "gcp:pubsub/topic:Topic"
TOPIC_IAM_MEMBER = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
SUBSCRIPTION_IAM_MEMBER = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
PUBLISHER = "roles/pubsub.publisher"
SUBSCRIBER = "roles/pubsub.subscriber"
PULL: dict[str, JSON] = {
    "ackDeadlineSeconds": 60,
    "messageRetentionDuration": "604800s",
    "retainAckedMessages": False,
    "expirationPolicy": {"ttl": ""},
    "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
}
"""The retrain receiver's subscription: a minute to start a message's runs before it is redelivered; an
unacknowledged message is kept 7 days (Pub/Sub's most), a refused one redelivered after 10s to 10 min;
``ttl: ""``: never deleted for inactivity (Pub/Sub's default deletes it after 31 idle days)."""
MAX_DELIVERY_ATTEMPTS = 10
"""Deliveries of a message before it is dead-lettered (Pub/Sub takes 5 to 100): with the backoff of
:data:`PULL` (from 10s, doubling, to 600s) some 40 minutes of refusals, more than a short outage of the
KFP API lasts."""
DEAD_LETTERS: dict[str, JSON] = {
    "ackDeadlineSeconds": 60,
    "messageRetentionDuration": "604800s",
    "retainAckedMessages": True,
    "expirationPolicy": {"ttl": ""},
}
"""The dead-letter subscription: each dead message kept 7 days, even once pulled and acknowledged (a
``seek`` brings it back); never deleted for inactivity, which is its usual state."""
DEAD_LETTER = "dead-letter"


def pull_subscription(
    ctx: BuildContext, key: str, name: str, topic: Resource, labels: dict[str, str], source: Path
) -> None:
    """The subscription ``name`` (graph name ``key``) on the alert ``topic``, dead-lettering to a topic and
    subscription ``<name>-dead-letter`` of its own."""
    project = ctx.gcp_project
    dead_name = f"{name}-{DEAD_LETTER}"
    dead_topic = f"projects/{project}/topics/{dead_name}"
    identity = service_agent(ctx, "pubsub", source)
    agent = fn_output(identity, "member")
    dead_key = f"{key}-{DEAD_LETTER}"
    encryption, key_deps = default_key(ctx, "pubsub", "kmsKeyName")
    dead_inputs: dict[str, JSON] = {"name": dead_name, "project": project, "labels": labels, **encryption}
    dead = ctx.add(TOPIC, dead_key, dead_inputs, source=source, depends_on=key_deps)
    kept = ctx.add(
        SUBSCRIPTION,
        dead_key,
        {"name": dead_name, "project": project, "topic": dead_topic, **DEAD_LETTERS, "labels": labels},
        source=source,
        depends_on=(dead.address,),
    )
    forwards = ctx.add(
        TOPIC_IAM_MEMBER,
        f"{dead_key}-publisher",
        {"project": project, "topic": dead_name, "role": PUBLISHER, "member": agent},
        source=source,
        depends_on=(dead.address, identity),
    )
    inputs: dict[str, JSON] = {
        "name": name,
        "project": project,
        "topic": f"projects/{topic.inputs['project']}/topics/{topic.inputs['name']}",
        **PULL,
        "deadLetterPolicy": {"deadLetterTopic": dead_topic, "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS},
        "labels": labels,
    }
    # Nothing is dead-lettered before a subscription keeps it and the agent may publish it.
    pulled = ctx.add(
        SUBSCRIPTION,
        key,
        inputs,
        source=source,
        depends_on=(topic.address, dead.address, kept.address, forwards.address),
    )
    ctx.add(
        SUBSCRIPTION_IAM_MEMBER,
        f"{dead_key}-subscriber",
        {"project": project, "subscription": name, "role": SUBSCRIBER, "member": agent},
        source=source,
        depends_on=(pulled.address, identity),
    )
