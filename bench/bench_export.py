"""Export speed and the server's memory while streaming: 100,000 items, 10,000 of them labelled.

Labels are written straight into the database (this measures the export, not labelling).
Memory: the resident size of the gunicorn worker serving the export, sampled every 20 ms while
it streams (its lifetime peak would include the import that filled the project).
Run: .venv/bin/python bench/bench_export.py [--items 100000] [--labelled 10000]
"""

import argparse
import tempfile
import threading
import time
from pathlib import Path

import psycopg
from common import (
    children,
    client,
    create_project,
    fresh_postgres,
    import_jsonl,
    jsonl_body,
    make_users,
    rss_kib,
    server,
    server_env,
    table,
)


def label_directly(database_url: str, project: int, user_id: int, count: int) -> None:
    """Give `count` items one annotation each with the project's first label, in bulk SQL."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO annotation_annotation (item_id, annotator_id, lead_time_ms, skipped, "
            "ambiguous, needs_expert, comment, prediction_shown, created_at, updated_at) "
            "SELECT id, %s, 1000, false, false, false, '', false, now(), now() "
            "FROM annotation_item WHERE project_id = %s ORDER BY id LIMIT %s",
            (user_id, project, count),
        )
        conn.execute(
            "INSERT INTO annotation_annotation_labels (annotation_id, label_id) "
            "SELECT a.id, (SELECT min(id) FROM annotation_label WHERE project_id = %s) "
            "FROM annotation_annotation a JOIN annotation_item i ON i.id = a.item_id "
            "WHERE i.project_id = %s",
            (project, project),
        )
        conn.execute(
            "UPDATE annotation_item SET annotation_count = 1, status = 'done' WHERE id IN "
            "(SELECT item_id FROM annotation_annotation)"
        )
        conn.execute("ANALYZE")


def sample_rss(pid: int, running: threading.Event, samples: list[int]) -> None:
    while running.is_set():
        samples.append(rss_kib(pid)["VmRSS"])
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labelled", type=int, default=10_000)
    args = parser.parse_args()
    database_url = fresh_postgres("hitl_bench_export")
    env = server_env(
        database_url, Path(tempfile.mkdtemp()), CELERY_BROKER_URL="redis://127.0.0.1:6379/14"
    )
    with server(env, workers=1, threads=1) as (base, master):
        token = make_users(env, ["exporter"])["exporter"]
        api = client(base, token)
        project = create_project(api, "export bench")
        import_jsonl(api, project, jsonl_body(args.items))
        user_id = api.get(f"/api/v1/projects/{project}/members/").json()[0]["user_id"]
        label_directly(database_url, project, user_id, args.labelled)
        worker = children(master.pid)[0]
        api.get(f"/api/v1/projects/{project}/export/?format=jsonl&warm=1").read()
        rows = []
        for file_format in ["jsonl", "json", "csv"]:
            before = rss_kib(worker)["VmRSS"]
            samples, streaming = [], threading.Event()
            streaming.set()
            sampler = threading.Thread(target=sample_rss, args=(worker, streaming, samples))
            sampler.start()
            start = time.perf_counter()
            size = 0
            with api.stream("GET", f"/api/v1/projects/{project}/export/?format={file_format}") as r:
                for chunk in r.iter_bytes():
                    size += len(chunk)
            elapsed = time.perf_counter() - start
            streaming.clear()
            sampler.join()
            rows.append(
                [
                    file_format,
                    f"{args.items:,}",
                    f"{args.labelled:,}",
                    f"{size / 1e6:.1f}",
                    f"{elapsed:.2f}",
                    f"{args.items / elapsed:,.0f}",
                    f"{before / 1024:.0f}",
                    f"{max(samples) / 1024:.0f}",
                    "<= 3 s",
                ]
            )
    table(
        "Export, streamed (PostgreSQL, one gunicorn worker so its memory can be read)",
        [
            "format",
            "items",
            "labelled",
            "MB",
            "seconds",
            "items/s",
            "worker RSS before MiB",
            "worker RSS max while streaming MiB",
            "target",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
