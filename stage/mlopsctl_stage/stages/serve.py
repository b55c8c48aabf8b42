"""``serve``: a model over KServe's v1 and v2 HTTP protocols, on 127.0.0.1 (local runs only).

- ``POST /v1/models/NAME:predict`` ``{"instances": [...]}``: each instance an object keyed by
  feature, or a list of feature values; answers ``{"predictions": [...]}``.
- ``POST /v2/models/NAME/infer`` ``{"inputs": [{name, shape, datatype, data}]}``: one input of
  shape ``[rows, features]``, or one input per feature (shape ``[rows]`` or ``[rows, 1]``);
  answers output ``predict`` (shape ``[rows]``) and, for a model that gives them,
  ``probabilities`` (shape ``[rows, classes]``).
- ``GET /v2/health/ready``, ``/v2/health/live``, ``/v2/models/NAME``, ``/v2/models/NAME/ready``,
  ``/v1/models/NAME``: readiness and metadata.

With ``--protocol``, only that protocol's prediction route is served. Features given by name
go to the model by the names it records, or in the order of the first instance (or inputs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.models import Model, Output, load_model

_V2_TYPES = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}


class BadRequest(ValueError):
    """A request the model cannot answer; the message goes back to the caller with status 400."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-uri", required=True, help="The model folder: a path or gs:// URI.")
    parser.add_argument("--protocol", choices=("v1", "v2"), help="Serve only this protocol (default: both).")
    parser.add_argument("--port", type=int, default=8080, help="The port on 127.0.0.1 (default 8080).")
    parser.add_argument("--name", default="model", help="The model name in the URLs (default: model).")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="mlopsctl-serve-") as temp:
        folder = Path(args.model_uri)
        if args.model_uri.startswith("gs://"):
            folder = Path(temp)
            storage.download_dir(args.model_uri, folder)
        model = load_model(folder, "--model-uri")
        print(f"serving {model.file.name} as {args.name!r} on http://127.0.0.1:{args.port}", file=sys.stderr)
        uvicorn.run(
            build_app(model, args.name, args.protocol), host="127.0.0.1", port=args.port, log_level="warning"
        )


def build_app(model: Model, name: str, protocol: str | None = None) -> Starlette:
    """The ASGI app serving ``model`` as ``name`` (both protocols when ``protocol`` is None)."""

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True})

    async def live(request: Request) -> JSONResponse:
        return JSONResponse({"live": True})

    async def v1_status(request: Request) -> JSONResponse:
        return JSONResponse({"name": name, "ready": True})

    async def v2_metadata(request: Request) -> JSONResponse:
        return JSONResponse({"name": name, "versions": ["1"], "platform": model.kind})

    async def v1_predict(request: Request) -> JSONResponse:
        output = await run_in_threadpool(model.predict, _v1_features(await _json(request)))
        return JSONResponse({"predictions": output.values.tolist()})

    async def v2_infer(request: Request) -> JSONResponse:
        body = await _json(request)
        output = await run_in_threadpool(model.predict, _v2_features(body))
        return JSONResponse({"model_name": name, "id": body.get("id"), "outputs": _v2_outputs(output)})

    routes = [
        Route("/v2/health/ready", ready),
        Route("/v2/health/live", live),
        Route(f"/v2/models/{name}", v2_metadata),
        Route(f"/v2/models/{name}/ready", ready),
        Route(f"/v1/models/{name}", v1_status),
    ]
    if protocol in (None, "v1"):
        routes.append(Route(f"/v1/models/{name}:predict", v1_predict, methods=["POST"]))
    if protocol in (None, "v2"):
        routes.append(Route(f"/v2/models/{name}/infer", v2_infer, methods=["POST"]))
    return Starlette(routes=routes, exception_handlers={BadRequest: _bad_request, StageError: _bad_request})


async def _bad_request(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=400)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _v1_features(body: dict[str, Any]) -> pa.Table | np.ndarray:
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise BadRequest('"instances" must be a non-empty list')
    if all(isinstance(row, dict) for row in instances):
        keys = list(instances[0])
        if any(set(row) != set(keys) for row in instances):
            raise BadRequest("every instance must have the same features")
        return _table({key: [row[key] for row in instances] for key in keys})
    if all(isinstance(row, list) for row in instances):
        return _matrix(instances)
    raise BadRequest("instances must be all objects (keyed by feature) or all lists")


def _v2_features(body: dict[str, Any]) -> pa.Table | np.ndarray:
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise BadRequest('"inputs" must be a non-empty list of {name, shape, datatype, data}')
    arrays: dict[str, np.ndarray] = {}
    for tensor in inputs:
        try:
            array = np.asarray(
                tensor["data"], dtype=np.float64 if tensor.get("datatype") != "BYTES" else object
            )
            arrays[str(tensor["name"])] = array.reshape(tensor["shape"])
        except (KeyError, TypeError, ValueError) as error:
            raise BadRequest(f"input {tensor.get('name')!r}: {error}") from None
    if len(arrays) == 1:
        (array,) = arrays.values()
        if array.ndim == 2:
            return array
    rows = {len(array) for array in arrays.values()}
    if len(rows) != 1 or any(array.ndim > 2 or array.size != len(array) for array in arrays.values()):
        raise BadRequest("give one input of shape [rows, features], or one input of shape [rows] per feature")
    return _table({name: array.reshape(len(array)).tolist() for name, array in arrays.items()})


def _table(columns: dict[str, list[Any]]) -> pa.Table:
    try:
        return pa.table({name: pa.array(values) for name, values in columns.items()})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise BadRequest(f"the features do not form a table: {error}") from None


def _matrix(rows: list[Any]) -> np.ndarray:
    try:
        return np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BadRequest(f"the instances must be lists of numbers of one length: {error}") from None


def _v2_outputs(output: Output) -> list[dict[str, Any]]:
    values = output.values
    outputs = [
        {
            "name": "predict",
            "shape": list(values.shape),
            "datatype": _V2_TYPES.get(values.dtype.kind, "BYTES"),
            "data": values.tolist(),
        }
    ]
    if output.probabilities is not None:
        probabilities = output.probabilities
        outputs.append(
            {
                "name": "probabilities",
                "shape": list(probabilities.shape),
                "datatype": "FP64",
                "data": probabilities.reshape(-1).tolist(),
            }
        )
    return outputs
