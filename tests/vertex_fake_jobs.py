"""The fake Vertex AI's model monitors, schedules and pipeline jobs."""

from __future__ import annotations

from typing import Any

from vertex_fake_state import ApiError, VertexState, canonical, refuse


class MonitorRoutes(VertexState):
    """v1beta1 model monitors and the schedules that run them."""

    def _monitor_response(self, name: str) -> dict[str, Any]:
        response = {"@type": "type.googleapis.com/google.cloud.aiplatform.v1beta1.ModelMonitor"}
        return self._operation(name, response | self.monitors[name])

    def _create_monitor(self, parent: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        name = f"{parent}/modelMonitors/{query['modelMonitorId']}"
        if name in self.monitors:
            raise ApiError("ALREADY_EXISTS", f"ModelMonitor {name} already exists")
        self.monitors[name] = {**body, "name": name}
        return self._monitor_response(name)

    def _get_monitor(self, name: str, **_: Any) -> dict[str, Any]:
        return self.monitors.get(name) or refuse("NOT_FOUND", f"ModelMonitor {name} not found")

    def _update_monitor(self, name: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        monitor = self._get_monitor(name)
        for key in query["updateMask"].split(","):
            monitor.pop(key, None)
            monitor.update({key: body[key]} if key in body else {})
        return self._monitor_response(name)

    def _delete_monitor(self, name: str, query: dict[str, str], **_: Any) -> dict[str, Any]:
        self._get_monitor(name)
        own = [s for s, v in self.schedules.items() if _monitor_of(v) == name]
        if own and query.get("force") != "true":
            raise ApiError("FAILED_PRECONDITION", f"ModelMonitor {name} has schedules")
        for schedule in own:
            del self.schedules[schedule]
        del self.monitors[name]
        return self._operation(name)

    def _create_schedule(self, parent: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        monitor = _monitor_of(body)
        if monitor and monitor not in self.monitors:
            raise ApiError("NOT_FOUND", f"ModelMonitor {monitor} not found")
        name = f"{parent}/schedules/{next(self._ids)}"
        self.schedules[name] = {**body, "name": name, "state": "ACTIVE"}
        return self.schedules[name]

    def _list_schedules(self, parent: str, **_: Any) -> dict[str, Any]:
        return {"schedules": [s for n, s in self.schedules.items() if n.startswith(parent)]}

    def _delete_schedule(self, name: str, **_: Any) -> dict[str, Any]:
        self.schedules.pop(name, None) or refuse("NOT_FOUND", f"Schedule {name} not found")
        return self._operation(name)


class PipelineJobRoutes(VertexState):
    """PipelineJobs, created synchronously."""

    def _create_pipeline_job(
        self, parent: str, query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        job_id = query.get("pipelineJobId") or str(next(self._ids))
        name = f"{parent}/pipelineJobs/{job_id}"
        if name in self.pipeline_jobs:
            raise ApiError("ALREADY_EXISTS", f"PipelineJob {name} already exists")
        if "pipelineSpec" not in body and "templateUri" not in body:
            raise ApiError("INVALID_ARGUMENT", "A PipelineJob needs a pipelineSpec or a templateUri")
        self.pipeline_jobs[name] = {**body, "name": name, "state": "PIPELINE_STATE_PENDING"}
        return self.pipeline_jobs[name]


def _monitor_of(schedule: dict[str, Any]) -> str:
    return canonical(schedule.get("createModelMonitoringJobRequest", {}).get("parent", ""))
