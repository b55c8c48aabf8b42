"""One tuning trial: train briefly with the hyperparameters given and print ``auc_pr=VALUE``.

Katib hands each trial ``--PARAM=VALUE`` per hyperparameter of the search space, then the
step's inputs as ``--examples DIR`` and ``--transform_graph DIR``; its StdOut collector reads
the ``METRIC=VALUE`` line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detector import DEFAULTS, auc_pr, fit, hyperparameters, load

TRIAL_ROUNDS = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in DEFAULTS:
        parser.add_argument(f"--{name}", default=DEFAULTS[name])
    parser.add_argument("--examples", type=Path, required=True)
    parser.add_argument("--transform_graph", type=Path)
    args = parser.parse_args()

    params = hyperparameters({name: getattr(args, name) for name in DEFAULTS})
    booster = fit(load(args.examples, "train"), params, rounds=TRIAL_ROUNDS)
    print(f"auc_pr={auc_pr(booster, load(args.examples, 'eval')):.6f}")


if __name__ == "__main__":
    main()
