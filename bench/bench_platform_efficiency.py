"""Label efficiency through the platform itself: three simulated annotators label through the
REST API at once (next, then the true label), with the project's default settings, while a real
worker (gunicorn + Celery + beat, PostgreSQL, Redis) retrains and rescores as labels arrive.

Every model version the run produced is then measured on the held-out test set: the curve is
accuracy against labels spent (training labels plus the evaluation sample), and the table
compares it with the pure-core simulation's figures (bench_label_efficiency.py's JSON).

Each simulated annotator reads for `--think` seconds after an answer: 1 s by default, still
quicker than people label a digit or a paragraph, so three of them answer about 3 labels a
second. At 0.3 s (10 labels a second) the rounds, 0.1-0.3 s each on digits, fall a few labels
behind; docs/benchmarks.md has both paces.

Run: .venv/bin/python bench/bench_platform_efficiency.py [--seeds 3] [--think 1.0]
Random through the platform, the like-for-like baseline (it pays the evaluation draws too):
  ... --set 'strategy="random"' --curves random.json, then --random-curves random.json
"""

import argparse
import json
import pickle
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (  # noqa: E402
    add_members,
    add_run_options,
    client,
    create_project,
    fresh_postgres,
    import_jsonl,
    make_users,
    server,
    server_env,
    table,
    worker,
)
from datasets import split  # noqa: E402

from models_service.ml import engine  # noqa: E402,F401  (the artifacts unpickle into it)

ANNOTATORS = 3  # the setting; --annotators 1 isolates what concurrency costs
BUDGETS = {"digits": 200, "texts": 700}  # labels a run spends: past the mark on most seeds
FIRST_BATCH = 10  # labels: as many as the seeds the first model is trained on


def annotate(api, project_id, budget_left, lock, think, stop):
    while not stop.is_set():
        with lock:
            if budget_left[0] <= 0:
                return
            budget_left[0] -= 1
        response = api.get(f"/api/v1/projects/{project_id}/next/")
        if response.status_code == 204:
            return
        item = response.json()
        answer = api.post(
            f"/api/v1/items/{item['id']}/annotations/", json={"labels": [item["data"]["truth"]]}
        )
        answer.raise_for_status()
        time.sleep(think)


def wait_for_seeds(database_url, project_id, timeout=30.0) -> float:
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.perf_counter() - started < timeout:
            query = "SELECT COUNT(*) FROM annotation_seed WHERE project_id = %s"
            if conn.execute(query, [project_id]).fetchone()[0]:
                break
            time.sleep(0.05)
    return time.perf_counter() - started


def read_artifact(path: Path):
    """A model file as the platform writes it (models_service.rounds.artifacts): a JSON line
    of the library versions, then the pickle. Only files this run's own workers wrote, in its
    own temporary model directory, are read."""
    with path.open("rb") as file:
        file.readline()  # the versions: this run's, the same interpreter's
        return pickle.load(file)  # noqa: S301


def versions(database_url, project_id):
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT number, trained_on, eval_size, status, (timings->>'round_s')::float "
            "FROM models_service_modelversion "
            "WHERE project_id = %s ORDER BY number",
            [project_id],
        ).fetchall()


def run_one(base, tokens, database_url, model_dir, data, seed, budget, think, settings, annotators):
    admin = client(base, tokens["admin"])
    project_id = create_project(admin, f"{data.name}-{seed}", labels=data.classes, **settings)
    add_members(admin, project_id, [f"sim{n}" for n in range(annotators)])
    rows = [
        item | {"truth": data.classes[y]} for item, y in zip(data.pool, data.pool_y, strict=True)
    ]
    import_jsonl(admin, project_id, "\n".join(json.dumps(r) for r in rows).encode())
    # As people would: labelling starts once the platform has chosen the pool's diverse seeds
    # (a worker does it in well under a second after the import; the wait is printed).
    waited = wait_for_seeds(database_url, project_id)
    print(f"{data.name} seed {seed}: seeds ready {waited:.1f}s after the import", file=sys.stderr)
    budget_left, lock, stop = [budget], threading.Lock(), threading.Event()
    threads = [
        threading.Thread(
            target=annotate,
            args=(client(base, tokens[f"sim{n}"]), project_id, budget_left, lock, think, stop),
        )
        for n in range(annotators)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    time.sleep(3)  # let the round in flight land
    curve, round_s, featurizers = [], [], {}
    for number, trained_on, eval_size, status, seconds in versions(database_url, project_id):
        if status != "ready":
            continue
        round_s.append(seconds)
        path = model_dir / f"project-{project_id}" / f"v{number}.pickle"
        bundle = read_artifact(path)
        if bundle.featurizer is None and bundle.featurizer_file:  # stored once, apart
            shared = path.parent / bundle.featurizer_file
            if shared not in featurizers:
                featurizers[shared] = read_artifact(shared)
            bundle.featurizer = featurizers[shared]
        predicted = bundle.proba(bundle.features(data.test)).argmax(axis=1)
        curve.append((trained_on + eval_size, float((predicted == data.test_y).mean()), trained_on))
    return curve, round_s, elapsed


def change_after(curve: list, labels: int) -> float | None:
    """Accuracy of the first version trained on `labels` more labels than the first model,
    minus the first model's."""
    first_labels, first_accuracy = curve[0][0], curve[0][1]
    later = next((acc for n, acc, _t in curve if n >= first_labels + labels), None)
    return None if later is None else later - first_accuracy


def labels_to_mark(runs: list, fulls: dict) -> float | None:
    """Median over runs of the labels spent when a version first reached 95% of the seed's
    full-pool accuracy. A run that never reached the mark counts as infinitely many labels:
    the median is a number while fewer than half of the runs missed it."""
    needed = []
    for run in runs:
        mark = 0.95 * fulls.get(run["seed"], float("nan"))
        needed.append(next((labels for labels, acc, _t in run["curve"] if acc >= mark), None))
    median = float(np.median([np.inf if n is None else n for n in needed]))
    return None if np.isinf(median) else median


def report(
    results: dict, core: dict, budget: int, think: float, annotators: int, random: dict
) -> None:
    """The table; `random` holds curves of a platform run with the random strategy (same
    settings otherwise), the like-for-like baseline: it pays the evaluation draws too."""
    rows = []
    for name, runs in results.items():
        fulls = {r["seed"]: r["full_pool_accuracy"] for r in core.get(name, {}).get("random", [])}
        median = labels_to_mark(runs, fulls)
        random_platform = labels_to_mark(random[name], fulls) if name in random else None

        def core_median(strategy, name=name):
            runs_core = core.get(name, {}).get(strategy, [])
            values = [
                next((n for n, acc in r["curve"] if acc >= 0.95 * r["full_pool_accuracy"]), None)
                for r in runs_core
            ]
            return float(np.median(values)) if values and None not in values else None

        random_core, default_core = core_median("random"), core_median("diverse_margin")
        # the second version is the first trained on labels the first model chose
        first_drop = [r["curve"][1][1] - r["curve"][0][1] for r in runs if len(r["curve"]) > 1]
        # the cold-start trap's scale: the first model's choices as many as the seeds (10)
        after_batch = [change_after(r["curve"], FIRST_BATCH) for r in runs]
        after_batch = [change for change in after_batch if change is not None]
        rows.append(
            [
                name,
                len(runs),
                f"{median:.0f}" if median else f">{budget or BUDGETS[name]}",
                f"{random_core:.0f}" if random_core else "?",
                f"{median / random_core:.2f}" if median and random_core else "?",
                f"{random_platform:.0f}" if random_platform else "?",
                f"{median / random_platform:.2f}" if median and random_platform else "?",
                f"{default_core:.0f}" if default_core else "?",
                f"{median / default_core:.2f}" if median and default_core else "?",
                f"{np.mean([r['curve'][0][1] for r in runs if r['curve']]):.3f}",
                f"{min(first_drop):+.3f}" if first_drop else "?",
                f"{min(after_batch):+.3f}" if after_batch else "?",
            ]
        )
    table(
        f"Label efficiency through the platform ({annotators} annotators at once, defaults, "
        f"{think}s reading time)",
        [
            "data set",
            "seeds",
            "labels to 95% (median)",
            "random, core",
            "ratio (target <= 0.5)",
            "random, platform",
            "ratio",
            "default, core one-at-a-time",
            "ratio (target <= 1.25)",
            "first model acc.",
            "worst change at the next version",
            f"worst change after {FIRST_BATCH} more labels",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    add_run_options(parser, seeds=3)
    parser.add_argument("--think", type=float, default=1.0, help="seconds an annotator reads")
    parser.add_argument("--core", type=Path, default=Path("docs/label-efficiency-core.json"))
    parser.add_argument("--curves", type=Path, default=Path("docs/label-efficiency-platform.json"))
    parser.add_argument("--annotators", type=int, default=ANNOTATORS)
    parser.add_argument("--report-only", action="store_true", help="table from --curves")
    parser.add_argument(
        "--random-curves",
        type=Path,
        help="curves of a run with --set strategy='\"random\"': random through the platform",
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=JSON",
        help="project settings other than the defaults, e.g. retrain_every=1 eval_share=0.05",
    )
    parser.add_argument(
        "--env", nargs="*", default=[], metavar="NAME=VALUE", help="server and worker settings"
    )
    args = parser.parse_args()
    settings = {field: json.loads(value) for field, value in (s.split("=", 1) for s in args.set)}
    core = json.loads(args.core.read_text()) if args.core.exists() else {}
    random = json.loads(args.random_curves.read_text()) if args.random_curves else {}
    if args.report_only:  # the table again from the curves of the last run
        report(
            json.loads(args.curves.read_text()),
            core,
            args.budget,
            args.think,
            args.annotators,
            random,
        )
        return
    database_url = fresh_postgres("hitl_bench_efficiency")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "models"
        env = server_env(
            database_url,
            Path(tmp),
            HITL_MODEL_DIR=str(model_dir),
            CELERY_BROKER_URL="redis://127.0.0.1:6379/13",
            HITL_SWEEP_SECONDS="2",
            HITL_MODEL_FILES_KEPT="0",  # every version is measured afterwards
            **dict(pair.split("=", 1) for pair in args.env),
        )
        with server(env) as (base, _web), worker(env, log=Path(tmp) / "worker.log"):
            tokens = make_users(env, ["admin"] + [f"sim{n}" for n in range(args.annotators)])
            for name in args.datasets:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    data = split(name, seed)
                    budget = args.budget or BUDGETS[name]
                    curve, round_s, elapsed = run_one(
                        base,
                        tokens,
                        database_url,
                        model_dir,
                        data,
                        seed,
                        budget,
                        args.think,
                        settings,
                        args.annotators,
                    )
                    print(
                        f"{name} seed {seed}: {len(curve)} versions, {elapsed:.0f}s",
                        file=sys.stderr,
                    )
                    results.setdefault(name, []).append(
                        {"seed": seed, "curve": curve, "round_s": round_s}
                    )
                    args.curves.parent.mkdir(parents=True, exist_ok=True)
                    args.curves.write_text(json.dumps(results))  # a cut-short run keeps these
    report(results, core, args.budget, args.think, args.annotators, random)


if __name__ == "__main__":
    main()
