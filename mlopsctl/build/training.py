"""Tuning steps as Katib Experiments; distributed training steps as PyTorchJobs or TFJobs.

A tuning or training job belongs to a pipeline run, not to the cluster: a
retraining run must tune and train on the data of that run, and two runs must
never share a job. So these objects are not resources of the graph (applying
the graph would start a job once, at deploy time, on no particular data).
Each is compiled here, fully and for the target, and embedded in the ``--config``
of its step (``{"experiment": ...}`` for ``tune``, ``{"job": ...}`` for a
distributed ``train``); it is thereby part of the PipelineVersion, shown by
``render`` and ``plan``, and versioned with the pipeline. The stage's contract:

- it creates the object in its namespace under a name unique to the run:
  ``metadata.name``, ``-`` and the first 8 characters of the run id (names are
  compiled short enough for that suffix and for the names Katib and the
  training operator derive from them); it changes nothing else but its own
  inputs and outputs, which it
  appends to the args of the trial container (``training``) or of every replica
  container, as ``--NAME=URI``;
- it waits for the object to finish and fails when it fails;
- ``tune`` writes the best trial's parameter assignments
  (``status.currentOptimalTrial``) to its outputs; ``train`` exports the model
  the master (chief) wrote.

Trials print their metrics as ``<metric>=<value>`` lines on stdout (Katib's
StdOut collector). The stage runs as the pipeline's Kubernetes account, which
this step allows to manage these objects; trials and replicas run as that
account too, on the step's node pool, with the step's resources.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.build import rbac
from mlopsctl.build.context import BuildContext
from mlopsctl.build.identity import identity_of
from mlopsctl.build.kfp_dag import StepSettings, secret_object_name
from mlopsctl.build.pods import container_resources, placement, run_to_completion_pod
from mlopsctl.config.checks.names import TRAINING_JOB_NAME_LIMIT
from mlopsctl.config.models.pipelines import HYPERBAND_ETA, SearchParameter, Step, Tuning
from mlopsctl.durations import parse_duration
from mlopsctl.graph import JSON
from mlopsctl.manifests import render_object
from mlopsctl.naming import namespace, shorten

TRIAL_CONTAINER = "training"
JOB_SUCCEEDED = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
JOB_FAILED = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
RUN_SUFFIX_LENGTH = 9
"""What the stage appends to a name: ``-`` and 8 characters of the run id."""
SUGGESTION_NAME_LIMIT = 62
"""Katib serves suggestions as a Service ``<experiment>-<algorithm>`` (63 characters at most)."""
FINISHED_JOB_TTL = 7 * 24 * 3600
"""Seconds a finished training job (and its pods' logs) is kept."""


@dataclass(frozen=True)
class Framework:
    kind: str
    replica_specs_field: str
    leader: str
    container: str
    """The container name the training operator looks for in each replica."""


FRAMEWORKS = {
    "pytorch": Framework("PyTorchJob", "pytorchReplicaSpecs", "Master", "pytorch"),
    "tensorflow": Framework("TFJob", "tfReplicaSpecs", "Chief", "tensorflow"),
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
        kinds = sorted({kind for step in pipeline.steps.values() if (kind := _resource(step))})
        if not kinds:
            continue
        who = identity_of(ctx, "pipeline", name, pipeline.service_account)
        verbs = ["create", "delete", "get", "list", "watch"]
        rbac.grant(
            ctx,
            f"{name}-training",
            who.ksa,
            [rbac.rule("kubeflow.org", kinds, verbs)],
            component="training",
            source=("pipelines", name),
        )


def _resource(step: Step) -> str | None:
    """The kubeflow.org resource a step's stage creates, if any."""
    if step.kind == "tune" and step.tuning is not None:
        return "experiments"
    if step.kind == "train" and step.distributed is not None:
        return f"{FRAMEWORKS[step.distributed.framework].kind.lower()}s"
    return None


def experiment(ctx: BuildContext, at: StepAt) -> dict[str, JSON]:
    """The Katib Experiment of a ``tune`` step."""
    tuning = at.step.tuning
    assert tuning is not None
    trial_args = [f"--{name}=${{trialParameters.{name}}}" for name in sorted(tuning.search_space)]
    return render_object(
        "katib-experiment",
        ctx.templates_dir,
        name=at.job_name(SUGGESTION_NAME_LIMIT - len(tuning.algorithm)),
        namespace=namespace(ctx.config),
        labels=_labels(ctx, at, "tuning"),
        objective=_objective(tuning),
        algorithm=_algorithm(tuning),
        parameters=[_parameter(name, p) for name, p in sorted(tuning.search_space.items())],
        max_trials=tuning.max_trials,
        parallel_trials=tuning.parallel_trials,
        max_failed_trials=tuning.max_failed_trials,
        container=TRIAL_CONTAINER,
        success_condition=JOB_SUCCEEDED,
        failure_condition=JOB_FAILED,
        trial_parameters=[
            {"name": name, "reference": name, "description": f"{p.type} parameter '{name}'"}
            for name, p in sorted(tuning.search_space.items())
        ],
        backoff_limit=at.step.retries,
        pod=_pod(ctx, at, "tuning", TRIAL_CONTAINER, [*at.step.args, *trial_args], "Never"),
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
    """The PyTorchJob or TFJob of a distributed ``train`` step: a master (chief) and workers."""
    distributed = at.step.distributed
    assert distributed is not None
    framework = FRAMEWORKS[distributed.framework]
    pod = _pod(ctx, at, "training", framework.container, list(at.step.args), "OnFailure")
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
    return render_object(
        "training-job",
        ctx.templates_dir,
        kind=framework.kind,
        name=at.job_name(TRAINING_JOB_NAME_LIMIT),
        namespace=namespace(ctx.config),
        labels=_labels(ctx, at, "training"),
        run_policy=run_policy,
        replica_specs_field=framework.replica_specs_field,
        replica_specs=replicas,
    )


def _labels(ctx: BuildContext, at: StepAt, component: str) -> dict[str, str]:
    return {**ctx.k8s_labels(component), "mlopsctl.dev/pipeline": at.pipeline, "mlopsctl.dev/step": at.name}


def _pod(
    ctx: BuildContext, at: StepAt, component: str, container_name: str, args: list[str], restart: str
) -> dict[str, JSON]:
    """A pod template running the step's image as the pipeline, on the step's pool."""
    step = at.step
    where = placement(at.settings.pool_name, at.settings.pool, step.resources.accelerators)
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
    return run_to_completion_pod(_labels(ctx, at, component), account.ksa, container, restart, where)


def _env(step: Step) -> list[JSON]:
    """The step's variables, and its secrets from the Secrets they are synced into (as kfp does)."""
    env: list[JSON] = [{"name": k, "value": v} for k, v in sorted(step.env.items())]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": secret_object_name(ref), "key": "value"}}}
        for k, ref in sorted(step.secrets.items())
    ]
    return env
