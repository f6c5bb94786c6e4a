"""The two data sets of the label-efficiency benchmarks, each split once per seed into a pool
(what annotators label) and a held-out test set (what every model is measured on).

- digits: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, BSD
  licence, shipped with scikit-learn): items carry their pixels as a `features` vector.
- texts: data/texts.jsonl (2,557 Debian package descriptions in 6 sections; see data/README.md
  for source and licence): items carry `text`.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Split:
    name: str
    classes: list[str]
    pool: list[dict]  # item data as a client would import it
    pool_y: np.ndarray
    test: list[dict]
    test_y: np.ndarray


def _digits() -> tuple[list[dict], np.ndarray, list[str]]:
    digits = load_digits()
    items = [
        {"text": f"digit image {i}", "features": (row / 16.0).round(4).tolist()}
        for i, row in enumerate(digits.data)
    ]
    return items, digits.target.astype(int), [str(c) for c in range(10)]


def _texts() -> tuple[list[dict], np.ndarray, list[str]]:
    rows = [json.loads(line) for line in (ROOT / "data" / "texts.jsonl").read_text().splitlines()]
    classes = sorted({row["label"] for row in rows})
    index = {name: i for i, name in enumerate(classes)}
    return (
        [{"text": row["text"]} for row in rows],
        np.array([index[r["label"]] for r in rows]),
        classes,
    )


LOADERS = {"digits": _digits, "texts": _texts}


def split(name: str, seed: int, test_size: float = 0.3) -> Split:
    items, y, classes = LOADERS[name]()
    pool_idx, test_idx = train_test_split(
        np.arange(len(items)), test_size=test_size, stratify=y, random_state=seed
    )
    return Split(
        name,
        classes,
        [items[i] for i in pool_idx],
        y[pool_idx],
        [items[i] for i in test_idx],
        y[test_idx],
    )
