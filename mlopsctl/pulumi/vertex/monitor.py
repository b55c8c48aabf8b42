"""``mlopsctl:vertex/modelMonitor:ModelMonitor``: Vertex AI Model Monitoring v2 of one model version.

A ``ModelMonitor`` (v1beta1 ModelMonitoringService) holds the model version, its training data,
feature schema, default objective and notifications. Monitoring runs as ModelMonitoringJobs;
periodic runs are v1beta1 ``Schedule``s whose request is ``create_model_monitoring_job_request``,
one per check: ``skew`` (serving data against the training data) when ``skewThresholds`` is
given, ``drift`` (serving data against the window before it) when ``driftThresholds`` is given.
The monitor's id comes from its display name, so an interrupted create is picked up again;
a new display name or model is a new monitor (the old one is deleted first: they may share
the id). Everything else changes in place; a changed check is a new schedule.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CreateResult, UpdateResult

from mlopsctl.pulumi.vertex.base import Input, VertexProvider, is_unknown, kind_failure, listed
from mlopsctl.pulumi.vertex.client import calling, client, location_path, missing_ok, wait
from mlopsctl.pulumi.vertex.model import split_version

DATA_TYPES = ("float", "integer", "boolean", "string", "categorical")
CHECKS = ("skew", "drift")
_VERSION_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/models/[^/@]+@[^/@]+")
_MUTABLE = (
    "training_dataset",
    "model_monitoring_schema",
    "tabular_objective",
    "notification_spec",
    "output_spec",
)


def monitor_id(display_name: str) -> str:
    """A model monitor id (``[a-z][a-z0-9-]{0,61}[a-z0-9]``) from a display name."""
    slug = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")
    slug = slug if slug[:1].isalpha() else f"m-{slug}"
    return slug[:63].rstrip("-")


class ModelMonitorProvider(VertexProvider):
    INPUTS = (
        Input("project", str, required=True, replace=True),
        Input("location", str, required=True, replace=True),
        Input("displayName", str, required=True, replace=True),
        Input("model", str, required=True, replace=True),
        Input("trainingDataset", str, required=True),
        Input("features", list, required=True),
        Input("skewThresholds", dict),
        Input("driftThresholds", dict),
        Input("defaultThreshold", float, default=0.3),
        Input("schedule", str, default=""),
        Input("window", str, default="1d"),
        Input("servingDataset", str, default=""),
        Input("timestampField", str, default="timestamp"),
        Input("endpoints", list, default=[]),
        Input("notificationEmails", list, default=[]),
        Input("notificationChannels", list, default=[]),
        Input("outputUri", str, default=""),
        Input("kmsKeyName", str, default="", replace=True),
    )
    OUTPUTS: ClassVar[tuple[str, ...]] = ("name", "scheduleNames")
    DELETE_BEFORE_REPLACE = True

    def validate(self, spec: dict[str, Any]) -> list[CheckFailure]:
        failures = []
        names = []
        for index, feature in enumerate(listed(spec["features"])):
            if is_unknown(feature):
                continue
            where = f"features[{index}]"
            if not isinstance(feature, dict) or set(feature) != {"name", "type"}:
                failures.append(CheckFailure(where, f"expected {{name, type}}, got {feature!r}"))
                continue
            names.append(feature["name"])
            if feature["type"] not in DATA_TYPES and not is_unknown(feature["type"]):
                why = f"{feature['type']!r} is not one of {', '.join(DATA_TYPES)}"
                failures.append(CheckFailure(f"{where}.type", why))
        for check in CHECKS:
            thresholds = spec[f"{check}Thresholds"]
            for feature, threshold in thresholds.items() if isinstance(thresholds, dict) else ():
                if feature not in names:
                    failures.append(CheckFailure(f"{check}Thresholds.{feature}", "not one of the features"))
                wrong = kind_failure(threshold, float)
                if wrong is None and not is_unknown(threshold) and threshold <= 0:
                    wrong = f"expected a threshold above 0, got {threshold}"
                if wrong is not None:
                    failures.append(CheckFailure(f"{check}Thresholds.{feature}", wrong))
        model = spec["model"]
        if not is_unknown(model) and not _VERSION_NAME.fullmatch(model):
            why = f"expected a model version's name (…/models/ID@VERSION), got {model!r}"
            failures.append(CheckFailure("model", why))
        for key in ("trainingDataset", "servingDataset"):
            value = spec[key]
            if value and not is_unknown(value) and not value.startswith("bq://"):
                failures.append(CheckFailure(key, f"expected bq://PROJECT.DATASET.TABLE, got {value!r}"))
        if not is_unknown(spec["window"]) and not re.fullmatch(r"\d+[wdhWDH]", spec["window"]):
            failures.append(CheckFailure("window", f"{spec['window']!r}: a number and w, d or h"))
        if spec["schedule"]:
            if spec["skewThresholds"] is None and spec["driftThresholds"] is None:
                why = "nothing to run: give skewThresholds or driftThresholds"
                failures.append(CheckFailure("schedule", why))
            if bool(spec["servingDataset"]) == bool(spec["endpoints"]):
                failures.append(CheckFailure("schedule", "needs exactly one of servingDataset and endpoints"))
        return failures

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = self.spec(props)
        name, schedules = _apply(spec)
        return CreateResult(name, {**spec, "name": name, "scheduleNames": schedules})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        spec = self.spec(_news)
        name, schedules = _apply(spec)
        return UpdateResult({**spec, "name": name, "scheduleNames": schedules})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        from google.cloud import aiplatform_v1beta1 as v1beta1

        spec = self.spec(_props)
        name = _name(spec)
        service = client(v1beta1.ModelMonitoringServiceClient, spec["location"])
        request = v1beta1.DeleteModelMonitorRequest(name=name, force=True)  # with its schedules
        what = f"delete model monitor {name}"
        missing_ok(lambda: wait(service.delete_model_monitor(request=request), what), what)


def _name(spec: dict[str, Any]) -> str:
    parent = location_path(spec["project"], spec["location"])
    return f"{parent}/modelMonitors/{monitor_id(spec['displayName'])}"


def _apply(spec: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Creates or updates the monitor, then its schedules; its name and the schedule of each check."""
    from google.cloud import aiplatform_v1beta1 as v1beta1

    name = _name(spec)
    service = client(v1beta1.ModelMonitoringServiceClient, spec["location"])
    monitor = _monitor(spec, name)
    if missing_ok(lambda: service.get_model_monitor(name=name), f"get model monitor {name}") is None:
        what = f"create model monitor {name}"
        request = v1beta1.CreateModelMonitorRequest(
            parent=location_path(spec["project"], spec["location"]),
            model_monitor=monitor,
            model_monitor_id=name.rsplit("/", 1)[-1],
        )
        with calling(what):
            operation = service.create_model_monitor(request=request)
    else:
        what = f"update model monitor {name}"
        mask = {"paths": list(_MUTABLE)}
        update = v1beta1.UpdateModelMonitorRequest(model_monitor=monitor, update_mask=mask)
        with calling(what):
            operation = service.update_model_monitor(request=update)
    wait(operation, what)
    return name, _sync_schedules(spec, name)


def _monitor(spec: dict[str, Any], name: str) -> Any:
    from google.cloud import aiplatform_v1beta1 as v1beta1

    target = v1beta1.ModelMonitor.ModelMonitoringTarget
    model, version = split_version(spec["model"])
    schema = v1beta1.ModelMonitoringSchema
    fields = [schema.FieldSchema(name=f["name"], data_type=f["type"]) for f in spec["features"]]
    found = v1beta1.ModelMonitor(
        name=name,
        display_name=spec["displayName"],
        model_monitoring_target=target(
            vertex_model=target.VertexModelSource(model=model, model_version_id=version)
        ),
        training_dataset=_bigquery(spec["trainingDataset"]),
        model_monitoring_schema=schema(feature_fields=fields),
        notification_spec=_notification(spec),
        output_spec=_output(spec),
    )
    if spec["kmsKeyName"]:  # taken only when the monitor is created
        found.encryption_spec = v1beta1.EncryptionSpec(kms_key_name=spec["kmsKeyName"])
    default = next((check for check in CHECKS if spec[f"{check}Thresholds"] is not None), None)
    if default is not None:
        found.tabular_objective = _objective(spec, default)
    return found


def _bigquery(uri: str, timestamp_field: str = "") -> Any:
    from google.cloud import aiplatform_v1beta1 as v1beta1

    dataset = v1beta1.ModelMonitoringInput.ModelMonitoringDataset
    source = dataset.ModelMonitoringBigQuerySource(table_uri=uri)
    return v1beta1.ModelMonitoringInput(
        columnized_dataset=dataset(bigquery_source=source, timestamp_field=timestamp_field)
    )


def _serving(spec: dict[str, Any], offset: str) -> Any:
    """The serving data of the window ending ``offset`` before a run."""
    from google.cloud import aiplatform_v1beta1 as v1beta1

    data = v1beta1.ModelMonitoringInput
    if spec["servingDataset"]:
        found = _bigquery(spec["servingDataset"], spec["timestampField"])
    else:
        found = data(vertex_endpoint_logs=data.VertexEndpointLogs(endpoints=spec["endpoints"]))
    found.time_offset = data.TimeOffset(offset=offset, window=spec["window"])
    return found


def _objective(spec: dict[str, Any], check: str) -> Any:
    from google.cloud import aiplatform_v1beta1 as v1beta1

    condition = v1beta1.ModelMonitoringAlertCondition
    objective = v1beta1.ModelMonitoringObjectiveSpec
    default = condition(threshold=spec["defaultThreshold"])
    drift = objective.DataDriftSpec(
        features=[f["name"] for f in spec["features"]],
        categorical_metric_type="l_infinity",
        numeric_metric_type="jensen_shannon_divergence",
        default_categorical_alert_condition=default,
        default_numeric_alert_condition=default,
        feature_alert_conditions={k: condition(threshold=v) for k, v in spec[f"{check}Thresholds"].items()},
    )
    return objective.TabularObjective(feature_drift_spec=drift)


def _notification(spec: dict[str, Any]) -> Any:
    from google.cloud import aiplatform_v1beta1 as v1beta1

    notification = v1beta1.ModelMonitoringNotificationSpec
    return notification(
        email_config=notification.EmailConfig(user_emails=spec["notificationEmails"]),
        enable_cloud_logging=True,
        notification_channel_configs=[
            notification.NotificationChannelConfig(notification_channel=channel)
            for channel in spec["notificationChannels"]
        ],
    )


def _output(spec: dict[str, Any]) -> Any:
    from google.cloud import aiplatform_v1beta1 as v1beta1

    if not spec["outputUri"]:
        return None  # Vertex AI makes a bucket of its own
    destination = v1beta1.GcsDestination(output_uri_prefix=spec["outputUri"])
    return v1beta1.ModelMonitoringOutputSpec(gcs_base_directory=destination)


def _schedules(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """The schedule each enabled check should have (none without a cron schedule)."""
    from google.cloud import aiplatform_v1beta1 as v1beta1

    wanted = {}
    for check in CHECKS if spec["schedule"] else ():
        if spec[f"{check}Thresholds"] is None:
            continue
        baseline = _bigquery(spec["trainingDataset"]) if check == "skew" else _serving(spec, spec["window"])
        label = f"{name.rsplit('/', 1)[-1]}-{check}"
        job = v1beta1.ModelMonitoringJob(
            display_name=label,
            model_monitoring_spec=v1beta1.ModelMonitoringSpec(
                objective_spec=v1beta1.ModelMonitoringObjectiveSpec(
                    tabular_objective=_objective(spec, check),
                    baseline_dataset=baseline,
                    target_dataset=_serving(spec, ""),
                ),
                notification_spec=_notification(spec),
                output_spec=_output(spec),
            ),
        )
        wanted[check] = v1beta1.Schedule(
            display_name=label,
            cron=spec["schedule"],
            max_concurrent_run_count=1,
            create_model_monitoring_job_request=v1beta1.CreateModelMonitoringJobRequest(
                parent=name, model_monitoring_job=job
            ),
        )
    return wanted


def _sync_schedules(spec: dict[str, Any], name: str) -> dict[str, str]:
    """Keeps the monitor's schedules that are as wanted, creates the missing, deletes the rest."""
    from google.cloud import aiplatform_v1beta1 as v1beta1

    service = client(v1beta1.ScheduleServiceClient, spec["location"])
    parent = location_path(spec["project"], spec["location"])
    with calling(f"list the schedules of {parent}"):
        existing = [s for s in service.list_schedules(parent=parent) if _monitor_of(s) == name]
    names = {}
    for check, schedule in _schedules(spec, name).items():
        same = next((s for s in existing if _same(s, schedule)), None)
        if same is None:
            with calling(f"schedule the {check} check of {name}"):
                same = service.create_schedule(parent=parent, schedule=schedule)
        names[check] = same.name
    for old in [s.name for s in existing if s.name not in names.values()]:
        _delete_schedule(service, old)
    return names


def _delete_schedule(service: Any, name: str) -> None:
    what = f"delete schedule {name}"
    missing_ok(lambda: wait(service.delete_schedule(name=name), what), what)


def _monitor_of(schedule: Any) -> str:
    parent: str = schedule.create_model_monitoring_job_request.parent
    return parent


def _same(current: Any, wanted: Any) -> bool:
    job = "create_model_monitoring_job_request"
    return bool(
        current.display_name == wanted.display_name
        and current.cron == wanted.cron
        and getattr(current, job).model_monitoring_job.model_monitoring_spec
        == getattr(wanted, job).model_monitoring_job.model_monitoring_spec
    )
