"""The engine's artifacts: model and featurizer files on disk, and what a worker process keeps
of them in memory between the tasks of a round.

One store per process (`store`). On disk, under HITL_MODEL_DIR/project-<id>/: `v<number>.pickle`
per model version (the newest HITL_MODEL_FILES_KEPT kept, and the serving one) and
`featurizer-<kind>-<sample>.pickle` per pool sample. In memory, for the life of the process:
  - the bundle of the version last used (a worker scores one round at a time, chunk after
    chunk, and a round's own worker never reads back what it just wrote);
  - up to FEATURIZERS_KEPT featurizers, while their pool sample stays the same (refitting
    gave the same vocabulary and cost a small project's round a second);
  - the featurized rows of up to FEATURE_CACHE_ROWS items under the current featurizer
    (character n-grams are most of a small project's round; an item's data never changes).
`reset()` empties the memory; tests call it between tests, since a test database hands out
the same ids again, which production never does.

Every file starts with a line of JSON naming the library versions that wrote it; a file written
under other versions raises StaleArtifact instead of being unpickled (the caller refits).
Files are written by the platform only, never uploaded, under names built from integers and
known featurizer names.
"""

import dataclasses
import os
import pickle
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy
import orjson
import scipy
import sklearn
from django.conf import settings

from models_service.ml import engine, features
from models_service.models import ModelVersion

FEATURIZERS_KEPT = 8
FEATURE_CACHE_ROWS = 20_000  # a pool this small keeps its features in each worker process


class StaleArtifact(Exception):
    """A file written by other library versions (or an older hitl): refit, never unpickle."""


def library_versions() -> dict[str, str]:
    """The versions a pickled model depends on, as stamped in every file."""
    return {"numpy": numpy.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}


class ArtifactStore:
    """Model and featurizer files, and this process's memory of them (see the module)."""

    def __init__(self, *, row_capacity: int = FEATURE_CACHE_ROWS):
        self.row_capacity = row_capacity
        self.reset()

    def reset(self) -> None:
        """Forget everything held in memory (the files stay)."""
        self._bundle: tuple[int, engine.Bundle] | None = None
        self._featurizers: dict[tuple, Any] = {}
        self.rows = features.RowCache(capacity=self.row_capacity)

    # --- where files go ---

    @staticmethod
    def folder(project_id: int) -> Path:
        return Path(settings.HITL_MODEL_DIR) / f"project-{project_id}"

    def model_path(self, version: ModelVersion) -> Path:
        return self.folder(version.project_id) / f"v{version.number}.pickle"

    def featurizer_path(self, project_id: int, key: tuple) -> Path:
        _project, kind, sample_hash = key
        if kind not in features.FEATURIZERS:
            raise ValueError(f"unknown featurizer {kind!r}")
        name = f"featurizer-{kind}-{sample_hash & 0xFFFFFFFFFFFFFFFF:016x}.pickle"
        return self.folder(project_id) / name

    # --- bundles ---

    def save(self, version: ModelVersion, bundle: engine.Bundle) -> None:
        """Write the version's bundle, and its featurizer beside it once per pool sample (80 MB
        with the pool's directions, against 4 MB for the model: it was written every round).

        Plain pickle, not joblib: on a bundle whose featurizer holds 90,000 n-grams joblib's
        pure-Python pickler took 2.5 s to write and 0.9 s to read, pickle 0.4 s and 0.07 s."""
        path = self.model_path(version)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if bundle.featurizer is not None and bundle.featurizer_key is not None:
            shared = self.featurizer_path(version.project_id, bundle.featurizer_key)
            if not _current(shared):
                _write(shared, bundle.featurizer)
            bundle = dataclasses.replace(bundle, featurizer=None, featurizer_file=shared.name)
        _write(path, bundle)

    def remember(self, version: ModelVersion, bundle: engine.Bundle) -> None:
        """Keep the bundle as this process's current one (its round's chunks come next)."""
        self._bundle = (version.id, bundle)

    def load(self, version: ModelVersion) -> engine.Bundle:
        """The version's bundle, from memory when it is the current one. Raises StaleArtifact
        for a file written under other library versions, FileNotFoundError for none."""
        if self._bundle is None or self._bundle[0] != version.id:
            self.remember(version, self.read(version))
        assert self._bundle is not None
        return self._bundle[1]

    def read(self, version: ModelVersion) -> engine.Bundle:
        """A fresh copy of the version's bundle from its file (the one in memory untouched)."""
        bundle: engine.Bundle = _read(self.model_path(version))
        key = bundle.featurizer_key  # set wherever featurizer_file is (see save)
        if bundle.featurizer is None and bundle.featurizer_file and key is not None:
            if key not in self._featurizers:
                path = self.featurizer_path(version.project_id, key)
                self._keep_featurizer(key, _read(path))
            bundle.featurizer = self._featurizers[key]
        return bundle

    # --- featurizers and featurized rows ---

    def featurizer(self, key: tuple, sample: Sequence[dict]) -> Any:
        """The featurizer named `key` (project, kind, pool sample), fitted on `sample` the first
        time this process needs it."""
        if key not in self._featurizers:
            self._keep_featurizer(key, features.fit(key[1], sample))
        return self._featurizers[key]

    def _keep_featurizer(self, key: tuple, featurizer: Any) -> None:
        if len(self._featurizers) >= FEATURIZERS_KEPT:
            self._featurizers.clear()
        self._featurizers[key] = featurizer

    def features(
        self, key: tuple | None, featurizer: Any, ids: Sequence[int], items: Sequence[dict]
    ):
        """The items' features under the featurizer, from this process's rows where it can."""
        return self.rows.features(key, featurizer, ids, items)

    def bundle_features(self, bundle: engine.Bundle, ids: Sequence[int], items: Sequence[dict]):
        return self.features(bundle.featurizer_key, bundle.featurizer, ids, items)

    # --- clearing up ---

    def prune_files(self, project_id: int, *, keep: set[int]) -> int:
        """Delete the project's model files but those of the version numbers in `keep`; the
        featurizer files stay. Returns how many went."""
        folder = self.folder(project_id)
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.glob("v*.pickle"):
            number = path.stem.removeprefix("v")
            if number.isdigit() and int(number) not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def forget_deleted(self, existing: set[int]) -> list[int]:
        """Delete the folders of projects not in `existing` (deleted since their rounds): their
        models hold their texts' n-grams. Returns the ids whose files went."""
        root = Path(settings.HITL_MODEL_DIR)
        gone = []
        for folder in root.glob("project-*") if root.is_dir() else []:
            number = folder.name.removeprefix("project-")
            if number.isdigit() and int(number) not in existing:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(int(number))
        return gone


def _write(path: Path, artifact: Any) -> None:
    """Write the file whole or not at all, readable by this user only (a model holds its
    project's n-grams)."""
    partial = path.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(orjson.dumps(library_versions()) + b"\n")
        pickle.dump(artifact, file, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)  # a reader never sees half a file


def _header(file) -> dict | None:
    try:
        header = orjson.loads(file.readline())
    except orjson.JSONDecodeError:
        return None  # written before files carried their versions
    return header if isinstance(header, dict) else None


def _current(path: Path) -> bool:
    """Whether a file exists and was written under this process's library versions."""
    if not path.exists():
        return False
    with path.open("rb") as file:
        return _header(file) == library_versions()


def _read(path: Path) -> Any:
    with path.open("rb") as file:
        written_with = _header(file)
        if written_with != library_versions():
            raise StaleArtifact(
                f"{path.name} was written with {written_with or 'unknown versions'}"
            )
        return pickle.load(file)  # noqa: S301  (written by _write above, never uploaded)


store = ArtifactStore()
