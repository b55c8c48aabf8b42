"""Train the fraud scorer (a small MLP) on an examples artifact; export TorchScript.

Inputs and outputs arrive as ``--NAME VALUE`` flags named as in mlops.yaml: ``--examples DIR``
(``Split-{train,eval}/data.parquet`` and ``metadata.json`` naming the label), ``--epochs N``,
``--global_batch_size N`` and ``--model DIR``, where ``model.pt`` is written.

The same script runs everywhere:

- on a TPU slice, when ``torch_xla`` is importable: one process per chip on each host, the
  gradients all-reduced across every chip of the slice;
- as a PyTorchJob on CPUs (``WORLD_SIZE`` > 1, set by the training operator): data-parallel
  with the gloo backend;
- alone, as ``mlopsctl run --local`` starts it: one process on the CPU.

``model.pt`` takes a float32 [N, F] tensor, the examples' columns other than the label in
table order (booleans as 0/1), and returns the class probabilities, float32 [N, 2]: column 0
legitimate, column 1 fraud (as scikit-learn's ``predict_proba`` orders them).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn


@dataclass(frozen=True)
class Replica:
    """Where this process trains and how it takes part in the data-parallel job."""

    device: torch.device
    rank: int
    world: int
    step: Callable[[torch.optim.Optimizer], None]


class Scorer(nn.Module):
    """The network, and the class probabilities it exports."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out.squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fraud = torch.sigmoid(self.logits(x))
        return torch.stack([1 - fraud, fraud], dim=1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--global_batch_size", "--global-batch-size", type=int, default=4096)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--model", type=Path, required=True)
    return parser.parse_args()


def load(examples: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's features (float32, columns in table order) and labels (float32 0/1)."""
    label = json.loads((examples / "metadata.json").read_text())["label"]
    if not label:
        raise SystemExit(f"{examples}/metadata.json names no label: set label on the ingest step")
    table = pq.read_table(examples / f"Split-{split}" / "data.parquet")
    columns = []
    for name in table.column_names:
        column = table[name]
        if name == label:
            continue
        if not (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_boolean(column.type)
            or pa.types.is_decimal(column.type)
        ):
            raise SystemExit(
                f"column {name} is {column.type}: transform it to numbers or drop it (mlops.yaml: transforms)"
            )
        columns.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    labels = table[label].cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.column_stack(columns).astype(np.float32), labels.astype(np.float32)


def train(args: argparse.Namespace, replica: Replica) -> None:
    started = time.monotonic()
    torch.manual_seed(0)
    features, labels = load(args.examples, "train")
    per_replica = len(labels) // replica.world  # equal shards keep the replicas in step
    shard = slice(replica.rank * per_replica, (replica.rank + 1) * per_replica)
    x = torch.from_numpy(features[shard]).to(replica.device)
    y = torch.from_numpy(labels[shard]).to(replica.device)
    model = Scorer(features.shape[1]).to(replica.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    batch = max(1, args.global_batch_size // replica.world)
    order = torch.Generator().manual_seed(replica.rank)
    for _ in range(args.epochs):
        shuffled = torch.randperm(per_replica, generator=order).to(replica.device)
        for start in range(0, per_replica, batch):
            rows = shuffled[start : start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model.logits(x[rows]), y[rows])
            loss.backward()
            replica.step(optimizer)
    if replica.rank == 0:
        export(model, features.shape[1], args)
        print(
            f"trained on {len(labels)} transactions in {time.monotonic() - started:.1f}s on {replica.world} "
            f"replica(s); eval AUC-ROC {eval_auc(args.model / 'model.pt', args.examples):.4f}"
        )


def export(model: Scorer, width: int, args: argparse.Namespace) -> None:
    """TorchScript of a CPU copy of the model, so that it loads without an accelerator."""
    cpu = Scorer(width)
    cpu.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    cpu.eval()
    args.model.mkdir(parents=True, exist_ok=True)
    torch.jit.script(cpu).save(str(args.model / "model.pt"))  # type: ignore[no-untyped-call]


def eval_auc(model_file: Path, examples: Path) -> float:
    """AUC-ROC of the saved model on the eval split (rank statistic), as a sanity check."""
    features, labels = load(examples, "eval")
    with torch.no_grad():
        scorer = torch.jit.load(str(model_file))  # type: ignore[no-untyped-call]
        scores = scorer(torch.from_numpy(features))[:, 1].numpy()
    ranks = scores.argsort().argsort() + 1
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / max(1, n_pos * n_neg))


def xla_worker(_index: int, args: argparse.Namespace) -> None:
    import torch_xla
    import torch_xla.core.xla_model as xm
    import torch_xla.runtime as xr

    def step(optimizer: torch.optim.Optimizer) -> None:
        xm.optimizer_step(optimizer, barrier=True)  # all-reduce the gradients, step, run the graph

    train(args, Replica(torch_xla.device(), xr.global_ordinal(), xr.world_size(), step))


def main() -> None:
    args = parse_args()
    if importlib.util.find_spec("torch_xla") is not None:
        import torch_xla

        torch_xla.launch(xla_worker, args=(args,))
        return
    torch.set_num_threads(1)  # the network is tiny: threads would spend more time in step than working
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        train(args, Replica(torch.device("cpu"), 0, 1, lambda optimizer: optimizer.step()))
        return
    import torch.distributed as dist

    dist.init_process_group("gloo")

    def step(optimizer: torch.optim.Optimizer) -> None:
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= world
        optimizer.step()

    try:
        train(args, Replica(torch.device("cpu"), dist.get_rank(), world, step))
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
