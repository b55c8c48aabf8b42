"""Tuning steps as Katib Experiments; distributed training as PyTorchJobs, TFJobs or JobSets.

A tuning or training job belongs to a pipeline run, not to the cluster: a
retraining run must tune and train on the data of that run, and two runs must
never share a job. So these objects are not resources of the graph (applying
the graph would start a job once, at deploy time, on no particular data).
Each is rendered here from its template (``experiment``, ``pytorchjob``, ``tfjob``,
``jobset`` under ``templates/kubernetes/``), fully and for the target, and embedded in the
``--config`` of its step's launcher (:func:`launcher_config`): ``mlopsctl-stage
tune-job`` or ``train-job``, a pod on a CPU pool that asks for no accelerator,
so it never holds the chips its own trials or replicas wait for. The object is
thereby part of the PipelineVersion, shown by ``render`` and ``plan``, and
versioned with the pipeline.

What is built:

- ``train`` on a multi-host TPU slice (more chips in the pool's topology than its
  machine type carries): a JobSet, as GKE runs such slices. One replicated job
  whose Indexed Job runs one pod per host (parallelism = completions = hosts,
  ``backoffLimit`` 0: the slice fails and restarts as a whole, up to the step's
  retries), each pod asking for every chip of its host, selected by the TPU
  accelerator and topology labels, with stable hostnames (the JobSet's headless
  Service) and the node pool held exclusively by one run.
- any other distributed ``train``: a PyTorchJob or TFJob, a master (chief) and
  workers with the step's resources.
- ``tune``: a Katib Experiment whose trials are Jobs running the step's image
  and ``command`` with the step's args, then ``--PARAM=${trialParameters.PARAM}``;
  trials print their metrics as ``METRIC=VALUE`` lines (Katib's StdOut collector,
  which needs the command).

The launcher (``docs/stages.md``) creates the object as ``NAME-RUN`` (RUN: the
first 8 characters of the run id; names are compiled short enough for that suffix
and for the names Katib, the training operator and JobSet derive from them),
owned by its own pod; appends ``--NAME=VALUE`` per input (and, for training, per
output) to the args of the trial container or of every replica container; waits,
failing when the object fails or outlives ``timeoutSeconds``; ``tune-job`` then
writes the best trial's parameter assignments.

Data: the launcher receives gs:// URIs and the pods read and write them through
the GKE Cloud Storage FUSE CSI driver. For each bucket among the URIs it adds an
ephemeral ``gcsfuse.csi.storage.gke.io`` volume mounted at ``/gcs/BUCKET`` (and
the ``gke-gcsfuse/volumes`` annotation) to the pod templates, and passes
``/gcs/BUCKET/PATH`` instead of ``gs://BUCKET/PATH``: user code reads and writes
plain files, as it does in a pipeline step on Vertex AI and in a local run. The
buckets are known only at run time (a run may name its own pipeline root), so
none of this is compiled here.

Trials and replicas run as the pipeline's Kubernetes account, which
:func:`build` allows to manage these objects, on the step's node pool, but without
its Kubernetes API token (``automountServiceAccountToken: false``): only the launcher
manages the objects, and user code in a trial or replica must not create more. Nothing
else in their pods needs the token (:mod:`mlopsctl.compiler.pods`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mlopsctl.compiler import rbac
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import identity_of
from mlopsctl.compiler.kfp_dag import StepSettings, secret_object_name
from mlopsctl.compiler.pods import (
    ACCELERATOR_RESOURCES,
    NODE_POOL_LABEL,
    RESTRICTED_POD,
    NodePool,
    Placement,
    container_resources,
    placement,
    run_to_completion_pod,
)
from mlopsctl.config import catalog
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.compute import TpuPool
from mlopsctl.config.models.pipelines import Pipeline, Step
from mlopsctl.config.models.tuning import HYPERBAND_ETA, SearchParameter, Tuning
from mlopsctl.config.naming import namespace, shorten
from mlopsctl.graph import JSON

CONTAINER = "training"
"""The container of a trial or of a JobSet's pods (the training operator wants its own names)."""
TRAINING_JOB_NAME_LIMIT = 52
"""The training operator names a Service per replica '<job>-worker-<index>' (up to 11 more characters)."""
RUN_SUFFIX_LENGTH = 9
"""What the launcher appends to a name: ``-`` and 8 characters of the run id."""
SUGGESTION_NAME_LIMIT = 62
"""Katib serves suggestions as a Service ``<experiment>-<algorithm>`` (63 characters at most)."""
EXPERIMENT_NAME_LIMIT = 40
"""Katib's experiment webhook refuses a longer Experiment name."""
TRIAL_POD: dict[str, JSON] = {**RESTRICTED_POD, "runAsUser": 1000, "runAsGroup": 1000}
"""A trial's pod: Katib injects its metrics collector, whose image runs as root, with no security
context of its own, so under ``runAsNonRoot`` only a pod-wide uid lets it start."""
DNS_LABEL_LIMIT = 63
FINISHED_JOB_TTL = 7 * 24 * 3600
"""Seconds a finished training job (and its pods' logs) is kept."""
SLICE_JOB = "slice"
"""The replicated job of a JobSet: one Job per TPU slice, one pod per host."""
MANAGE = ["create", "delete", "get", "watch"]
"""What a launcher does with the object it creates: create it, watch it (a watch on one name is the
``watch`` verb, not ``list``), get it when the watch ends early, delete it."""


@dataclass(frozen=True)
class Framework:
    kind: str
    """Its job's kind, whose template is ``templates/kubernetes/<kind in lowercase>.yaml.j2``."""
    leader: str
    container: str
    """The container name the training operator looks for in each replica."""


FRAMEWORKS = {
    "pytorch": Framework("PyTorchJob", "Master", "pytorch"),
    "tensorflow": Framework("TFJob", "Chief", "tensorflow"),
}


@dataclass(frozen=True)
class StepAt:
    """A step with where it is declared and the settings resolved for the target."""

    pipeline: str
    name: str
    step: Step
    settings: StepSettings

    def job_name(self, limit: int) -> str:
        """``<pipeline>-<step>``, short enough that the run suffix keeps it within ``limit``."""
        return shorten(f"{self.pipeline}-{self.name}", limit - RUN_SUFFIX_LENGTH)


def build(ctx: BuildContext) -> None:
    """Let each pipeline that tunes or trains distributed manage those objects in its namespace."""
    for name, pipeline in ctx.config.pipelines.items():
        rules = _rules(ctx, pipeline)
        if not rules:
            continue
        who = identity_of(ctx, "pipeline", name, pipeline.service_account)
        rbac.grant(ctx, f"{name}-training", who.ksa, rules, component="training", source=("pipelines", name))


def _rules(ctx: BuildContext, pipeline: Pipeline) -> list[dict[str, JSON]]:
    """What the launchers of ``pipeline`` create, read and delete; their own pod, to own the objects."""
    created: dict[str, set[str]] = {}
    for step in pipeline.steps.values():
        if step.kind == "tune" and step.tuning is not None:
            created.setdefault("kubeflow.org", set()).add("experiments")
        elif step.kind == "train" and step.distributed is not None:
            pool_name = step.resources.node_pool or pipeline.node_pool
            pool = ctx.config.accelerators.get(pool_name) if pool_name else None
            if multi_host_slice(pool) is not None:
                created.setdefault("jobset.x-k8s.io", set()).add("jobsets")
            else:
                kind = FRAMEWORKS[step.distributed.framework].kind
                created.setdefault("kubeflow.org", set()).add(f"{kind.lower()}s")
    if not created:
        return []
    rules = [rbac.rule(group, sorted(kinds), MANAGE) for group, kinds in sorted(created.items())]
    if "experiments" in created.get("kubeflow.org", set()):
        rules.append(rbac.rule("kubeflow.org", ["trials"], ["list"]))  # the experiment's, by label
    return [*rules, rbac.rule("", ["pods"], ["get"])]


def multi_host_slice(pool: NodePool | None) -> catalog.TpuSlice | None:
    """The TPU slice of ``pool`` when it spans several hosts (each a node), else None."""
    if not isinstance(pool, TpuPool):
        return None
    found = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
    return found if found is not None and found.multi_host else None


def launcher_config(ctx: BuildContext, at: StepAt) -> dict[str, JSON]:
    """The ``--config`` of a ``tune`` step's ``tune-job`` or a distributed ``train`` step's ``train-job``."""
    step = at.step
    config: dict[str, JSON]
    if step.kind == "tune":
        tuning = step.tuning
        assert tuning is not None
        config = {
            "experiment": experiment(ctx, at),
            "searchSpace": {
                name: p.model_dump(mode="json", by_alias=True, exclude_none=True)
                for name, p in sorted(tuning.search_space.items())
            },
            "objective": {"metric": tuning.objective.metric, "goal": tuning.objective.goal},
        }
    else:
        config = {"job": training_job(ctx, at)}
    if step.timeout:
        config["timeoutSeconds"] = parse_duration(step.timeout)
    return config


def experiment(ctx: BuildContext, at: StepAt) -> dict[str, JSON]:
    """The Katib Experiment of a ``tune`` step."""
    tuning = at.step.tuning
    assert tuning is not None
    space = sorted(tuning.search_space.items())
    trial_args = [f"--{name}=${{trialParameters.{name}}}" for name, _ in space]
    pod = _pod(ctx, at, "tuning", CONTAINER, [*at.step.args, *trial_args], "Never", _placement(at))
    return ctx.manifest(
        "experiment",
        **_metadata(
            ctx, at, "tuning", min(EXPERIMENT_NAME_LIMIT, SUGGESTION_NAME_LIMIT - len(tuning.algorithm))
        ),
        objective=_objective(tuning),
        algorithm=_algorithm(tuning),
        parameters=[_parameter(name, p) for name, p in space],
        max_trials=tuning.max_trials,
        parallel_trials=tuning.parallel_trials,
        max_failed_trials=tuning.max_failed_trials,
        container=CONTAINER,
        trial_parameters=[
            {"name": name, "reference": name, "description": f"{p.type} parameter '{name}'"}
            for name, p in space
        ],
        retries=at.step.retries,
        pod=pod,
    )


def _objective(tuning: Tuning) -> dict[str, JSON]:
    objective: dict[str, JSON] = {
        "type": tuning.objective.goal,
        "objectiveMetricName": tuning.objective.metric,
    }
    if tuning.objective.target is not None:
        objective["goal"] = tuning.objective.target
    return objective


def _algorithm(tuning: Tuning) -> dict[str, JSON]:
    algorithm: dict[str, JSON] = {"algorithmName": tuning.algorithm}  # named as in Katib
    if tuning.algorithm == "hyperband":
        resource = tuning.search_space[tuning.resource or ""]
        assert resource.max is not None
        settings = {
            "resource_name": tuning.resource,
            "r_l": _number(resource.max, "int"),
            "eta": str(HYPERBAND_ETA),
        }
        algorithm["algorithmSettings"] = [{"name": k, "value": v} for k, v in sorted(settings.items())]
    return algorithm


def _parameter(name: str, parameter: SearchParameter) -> dict[str, JSON]:
    """A search parameter: bounds as the strings Katib reads, or the list of values."""
    space: dict[str, JSON]
    if parameter.numeric:
        assert parameter.min is not None and parameter.max is not None
        space = {
            "min": _number(parameter.min, parameter.type),
            "max": _number(parameter.max, parameter.type),
            "distribution": "logUniform" if parameter.scale == "log" else "uniform",
        }
        if parameter.step is not None:
            space["step"] = _number(parameter.step, parameter.type)
    else:
        space = {"list": [_scalar(v) for v in parameter.values or []]}
    return {"name": name, "parameterType": parameter.type, "feasibleSpace": space}


def _number(value: float, kind: str) -> str:
    return str(int(value)) if kind == "int" else repr(float(value))


def _scalar(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def training_job(ctx: BuildContext, at: StepAt) -> dict[str, JSON]:
    """The object a distributed ``train`` step's launcher creates: a JobSet on a multi-host TPU slice,
    else the framework's job."""
    tpu_slice = multi_host_slice(at.settings.pool)
    if tpu_slice is not None:
        return _jobset(ctx, at, tpu_slice)
    distributed = at.step.distributed
    assert distributed is not None
    framework = FRAMEWORKS[distributed.framework]
    pod = _pod(ctx, at, "training", framework.container, list(at.step.args), "OnFailure", _placement(at))
    replicas: dict[str, JSON] = {
        framework.leader: {"replicas": 1, "restartPolicy": "OnFailure", "template": pod}
    }
    if distributed.workers > 1:
        replicas["Worker"] = {
            "replicas": distributed.workers - 1,
            "restartPolicy": "OnFailure",
            "template": pod,
        }
    run_policy: dict[str, JSON] = {
        "cleanPodPolicy": "Running",
        "backoffLimit": at.step.retries,
        "ttlSecondsAfterFinished": FINISHED_JOB_TTL,
    }
    if at.step.timeout:
        run_policy["activeDeadlineSeconds"] = parse_duration(at.step.timeout)
    return ctx.manifest(
        framework.kind.lower(),
        **_metadata(ctx, at, "training", TRAINING_JOB_NAME_LIMIT),
        run_policy=run_policy,
        replicas=replicas,
    )


def _jobset(ctx: BuildContext, at: StepAt, tpu_slice: catalog.TpuSlice) -> dict[str, JSON]:
    """One Indexed Job over the hosts of the slice; a failed host fails and restarts the whole slice."""
    hosts = tpu_slice.hosts
    where = replace(_placement(at), accelerator=ACCELERATOR_RESOURCES["tpu"], count=tpu_slice.chips_per_host)
    job: dict[str, JSON] = {
        "parallelism": hosts,
        "completions": hosts,
        "completionMode": "Indexed",
        "backoffLimit": 0,
        "template": _pod(ctx, at, "training", CONTAINER, list(at.step.args), "Never", where),
    }
    if at.step.timeout:
        job["activeDeadlineSeconds"] = parse_duration(at.step.timeout)
    # Pods are named <jobset>-<replicated job>-<job index>-<pod index>, a DNS label (their hostname).
    limit = DNS_LABEL_LIMIT - len(f"-{SLICE_JOB}-0-{hosts - 1}")
    return ctx.manifest(
        "jobset",
        **_metadata(ctx, at, "training", limit),
        exclusive_topology=NODE_POOL_LABEL,  # each Job alone in a node pool: runs never share a slice
        retries=at.step.retries,
        replicated_job=SLICE_JOB,
        job=job,
        ttl=FINISHED_JOB_TTL,
    )


def _metadata(ctx: BuildContext, at: StepAt, component: str, limit: int) -> dict[str, JSON]:
    """The name (within ``limit`` with the run suffix), namespace and labels of a job's object."""
    return {
        "name": at.job_name(limit),
        "namespace": namespace(ctx.config),
        "labels": _labels(ctx, at, component),
    }


def _labels(ctx: BuildContext, at: StepAt, component: str) -> dict[str, str]:
    return {**ctx.k8s_labels(component), "mlopsctl.dev/pipeline": at.pipeline, "mlopsctl.dev/step": at.name}


def _placement(at: StepAt) -> Placement:
    """The step's pool and accelerators (on a TPU pool with the slice's labels GKE requires)."""
    return placement(at.settings.pool_name, at.settings.pool, at.step.resources.accelerators)


def _pod(
    ctx: BuildContext,
    at: StepAt,
    component: str,
    container_name: str,
    args: list[str],
    restart: str,
    where: Placement,
) -> dict[str, JSON]:
    """A pod template running the step's image and command as the pipeline, placed as ``where``."""
    step = at.step
    container: dict[str, JSON] = {"name": container_name, "image": at.settings.image, "args": args}
    if step.command:
        container["command"] = list(step.command)
    env = _env(step)
    if env:
        container["env"] = env
    resources = container_resources(step.resources, where)
    if resources:
        container["resources"] = resources
    account = identity_of(ctx, "pipeline", at.pipeline, ctx.config.pipelines[at.pipeline].service_account)
    security = TRIAL_POD if component == "tuning" else RESTRICTED_POD
    return run_to_completion_pod(
        _labels(ctx, at, component), account.ksa, container, restart, where, security=security
    )


def _env(step: Step) -> list[JSON]:
    """The step's variables, and its secrets from the Secrets they are synced into (as kfp does)."""
    env: list[JSON] = [{"name": k, "value": v} for k, v in sorted(step.env.items())]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": secret_object_name(ref), "key": "value"}}}
        for k, ref in sorted(step.secrets.items())
    ]
    return env
