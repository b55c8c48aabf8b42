"""Oversized requests, unusable runtimes and logs: edits of test_value_checks.BASE with their errors."""

from __future__ import annotations

WORKLOAD_CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "step asks for more CPUs than its pool's node has": (
        [('cpu: "3", memory: 12Gi', 'cpu: "4", memory: 12Gi')],
        [
            "mlops.yaml:41:45: error E205: step 'fit' of pipeline 'train' requests 4 CPUs, but nodes "
            "of pool 'general' (n2-standard-4) can allocate at most 3.92 CPUs\n  hint: request at most "
            "3920m, or run it on a pool of larger machines",
        ],
    ),
    "step asks for more memory than its pool's node has": (
        [('cpu: "3", memory: 12Gi', 'cpu: "3", memory: 14Gi')],
        [
            "mlops.yaml:41:58: error E205: step 'fit' of pipeline 'train' requests 14Gi of memory, but "
            "nodes of pool 'general' (n2-standard-4) can allocate at most 13.3Gi of memory\n  hint: "
            "request at most 13621Mi, or run it on a pool of larger machines",
        ],
    ),
    "step without a pool asks for more than any untainted node has": (
        [('{nodePool: general, cpu: "3", memory: 12Gi}', '{cpu: "3", memory: 14Gi}')],
        [
            "mlops.yaml:41:39: error E205: step 'fit' of pipeline 'train' requests 14Gi of memory, but "
            "it names no node pool, and the nodes it can run on (general: n2-standard-4) can allocate "
            "at most 13.3Gi of memory\n  hint: request at most 13621Mi, or run it on a pool of larger "
            "machines",
        ],
    ),
    "variant on the default GPU machine asks for more CPUs than it has": (
        [("nodePool: l4, accelerators: 1}", "nodePool: l4, accelerators: 1, cpu: '4'}")],
        [
            "mlops.yaml:46:78: error E205: variant 'main' of endpoint 'digits' requests 4 CPUs, but "
            "nodes of pool 'l4' (g2-standard-4) can allocate at most 3.92 CPUs\n  hint: request at "
            "most 3920m, or run it on a pool of larger machines",
        ],
    ),
    "a machine type of unknown shape is not checked": (
        [("machineType: n2-standard-4", "machineType: n4-standard-4"), ("memory: 12Gi", "memory: 900Gi")],
        [],
    ),
    "triton on a TPU pool": (
        [("nodePool: l4, accelerators: 1", "nodePool: tpu")],
        [
            "mlops.yaml:46:52: error E204: variant 'main' of endpoint 'digits' runs on node pool "
            "'tpu', but its runtime 'triton' (kserve-tritonserver) cannot use TPU chips\n  hint: serve "
            "it from a GPU or CPU pool: no KServe runtime mlopsctl deploys uses TPU chips",
        ],
    ),
    "sklearn asking for GPUs": (
        [("version: v1, nodePool: general}", "version: v1, nodePool: l4, accelerators: 1}")],
        [
            "mlops.yaml:49:51: error E204: variant 'main' of endpoint 'churn' runs on node pool 'l4', "
            "but its runtime 'sklearn' (kserve-sklearnserver) cannot use GPUs\n  hint: serve it from a "
            "CPU pool without GPUs; runtimes that use GPUs: huggingface, onnx, pytorch, tensorflow, "
            "triton, xgboost",
        ],
    ),
    "request logging of a gRPC-only endpoint": (
        [
            (
                "  churn:\n    variants:",
                "  churn:\n    protocols: [grpc]\n    protocolVersion: v2\n    variants:",
            )
        ],
        [
            "mlops.yaml:52:14: error E204: endpoint 'churn' logs requests but serves gRPC only, and "
            "KServe's request logger does not see gRPC traffic: the log would stay empty\n  hint: add "
            "http to 'protocols' and send the requests to log over HTTP, or remove 'logging'",
        ],
    ),
}
