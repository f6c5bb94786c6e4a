"""Our Dawid-Skene (annotation.truth) against crowd-kit's, the reference implementation, on
the simulated crowd of bench_truth_inference.py (two data sets, five annotators of mixed
quality, 3 answers per item).

crowd-kit depends on `transformers` and pandas, which hitl does not want, so it runs in a
throwaway virtual environment of its own (made on the first run with `pip install
crowd-kit==CROWDKIT_VERSION`, about 800 MB, then reused), fed the answers as CSV; it answers
with its posteriors and confusion matrices in an .npz file. Both start from the majority vote.
Two settings: as each ships (ours adds a 0.01 count to every matrix cell, truth.SMOOTHING, and
stops when no posterior moves 1e-5; crowd-kit stops when its loss moves 1e-5), and the same
computation run to convergence (smoothing 1e-12, tolerance 1e-12, up to 2,000 steps), where
the two should agree to the last digit unless EM found different fixed points.

Run: .venv/bin/python bench/bench_truth_crowdkit.py [--seeds 3] [--venv /tmp/hitl-crowdkit]
"""

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_truth_inference import CROWD, simulated_crowds  # noqa: E402  (not a package)

from annotation.truth import SMOOTHING, dawid_skene  # noqa: E402
from bench.common import table  # noqa: E402

CROWDKIT_VERSION = "1.4.2"

# Runs inside the throwaway environment: answers.csv in, crowdkit.npz out (posteriors items x
# labels; confusion annotators x truth x answer), everything numbered as in the CSV.
CROWDKIT_SCRIPT = """
import sys
import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene

folder, n_items, n_annotators, n_labels, steps = sys.argv[1], *map(int, sys.argv[2:6])
answers = pd.read_csv(f"{folder}/answers.csv")
model = DawidSkene(n_iter=steps, tol=float(sys.argv[6]))
model.fit(answers)
posteriors = np.zeros((n_items, n_labels))
probas = model.probas_
posteriors[np.ix_(probas.index.to_numpy(), probas.columns.to_numpy())] = probas.to_numpy()
confusion = np.zeros((n_annotators, n_labels, n_labels))
for (worker, answered), row in model.errors_.iterrows():
    for truth, share in row.items():
        confusion[worker, truth, answered] = share
np.savez(f"{folder}/crowdkit.npz", posteriors=posteriors, confusion=confusion)
"""


def crowdkit_python(venv: Path) -> Path:
    """The throwaway environment's Python, made with crowd-kit installed if it is missing."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"crowd-kit=={CROWDKIT_VERSION}"],
            check=True,
        )
    return python


# name: (our smoothing, steps, tolerance)
SETTINGS = {"as shipped": (SMOOTHING, 100, 1e-5), "to convergence": (1e-12, 2_000, 1e-12)}


def crowdkit_dawid_skene(python: Path, items, annotators, labels, shape, steps, tolerance) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        with open(f"{folder}/answers.csv", "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["task", "worker", "label"])
            writer.writerows(zip(items.tolist(), annotators.tolist(), labels.tolist(), strict=True))
        subprocess.run(
            [str(python), "-c", CROWDKIT_SCRIPT, folder, *map(str, (*shape, steps, tolerance))],
            check=True,
            capture_output=True,
        )
        with np.load(f"{folder}/crowdkit.npz", allow_pickle=False) as result:
            return {name: result[name] for name in result.files}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "hitl-crowdkit")
    args = parser.parse_args()
    python = crowdkit_python(args.venv)
    rows = []
    for name, seed, truth, classes, matrices, answers, _ in simulated_crowds(args.seeds, 3):
        items, annotators, labels = answers
        shape = (len(truth), len(CROWD), len(classes))
        for setting, (smoothing, steps, tolerance) in SETTINGS.items():
            ours = dawid_skene(
                items,
                annotators,
                labels,
                n_items=shape[0],
                n_annotators=shape[1],
                n_labels=shape[2],
                max_iterations=steps,
                tolerance=tolerance,
                smoothing=smoothing,
            )
            theirs = crowdkit_dawid_skene(
                python, items, annotators, labels, shape, steps, tolerance
            )
            ours_labels = ours.posteriors.argmax(axis=1)
            their_labels = theirs["posteriors"].argmax(axis=1)
            rows.append(
                [
                    name,
                    seed,
                    shape[0],
                    setting,
                    f"{(ours_labels == their_labels).mean() * 100:.2f}%",
                    f"{(ours_labels == truth).mean():.3f}",
                    f"{(their_labels == truth).mean():.3f}",
                    f"{np.abs(ours.posteriors - theirs['posteriors']).max():.3f}",
                    f"{np.abs(ours.confusion - theirs['confusion']).max():.3f}",
                    f"{np.abs(ours.confusion - matrices).max():.3f}",
                ]
            )
    table(
        f"Dawid-Skene: hitl's against crowd-kit {CROWDKIT_VERSION} on the simulated crowd",
        [
            "data set",
            "seed",
            "items",
            "setting",
            "same label",
            "hitl acc",
            "crowd-kit acc",
            "max |posterior diff|",
            "max |matrix diff|",
            "hitl max |matrix - true|",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
