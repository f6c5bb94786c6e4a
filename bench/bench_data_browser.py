"""The data browser at a million items: the project page's first page and its thousandth
(keyset: `after=` the 50,000th match's id) with search and filters, the model's filters
(predicted label, confidence at most) under a serving ranking written here as a round
would, the item page, and the API's item list with the same filters (keyset cursors too).

A project of --items short texts (bench/common.pool_jsonl: words of four topics and common
words) imported through the API, --labelled more imported with their labels (answers, so
those items are done); PostgreSQL, gunicorn as the Dockerfile runs it, no worker. Each case
is requested --repeat times one after the other by one signed-in client; p50 and p99 of the
time to the whole answer.

Targets (issue 25): first page and page 1,000 of a search with two filters p99 <= 100 ms;
the item view <= 50 ms.

About 3 minutes at the default size on 2 cores.
Run: .venv/bin/python bench/bench_data_browser.py [--items 1000000] [--labelled 20000]
     [--repeat 30]
"""

import argparse
import base64
import json
import os
import random
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from common import (
    CLASSES,
    client,
    fresh_postgres,
    import_jsonl,
    manage,
    ms,
    percentile,
    pool_jsonl,
    server,
    server_env,
    table,
)

DATABASE = os.environ.get("BENCH_DATABASE", "hitl_bench_data_browser")
# as annotation/search.py writes it, so that the cursor query reads the same index
DOCUMENT = "to_tsvector('simple'::regconfig, COALESCE((data ->> 'text'), ''))"


def signed_in(env: dict, base: str, username: str) -> httpx.Client:
    """A browser's session for `username` (a staff user made here), as a cookie."""
    code = (
        "from django.contrib.auth.models import User\n"
        "from django.test import Client\n"
        f"u, _ = User.objects.update_or_create(username={username!r}, "
        "defaults={'is_staff': True})\n"
        "c = Client()\n"
        "c.force_login(u)\n"
        "print('SESSION' + c.cookies['sessionid'].value)\n"
    )
    session = manage(env, "shell", "-c", code).split("SESSION", 1)[1].strip()
    return httpx.Client(base_url=base, cookies={"sessionid": session}, timeout=120)


def labelled_rows(n: int) -> bytes:
    lines = pool_jsonl(n, seed=11).decode().splitlines()
    out = []
    for line in lines:
        row = json.loads(line)
        row["labels"] = [row["truth"]]
        out.append(json.dumps(row))
    return "\n".join(out).encode()


def nth_match_id(database_url: str, project_id: int, where: str, params: list, n: int):
    sql = (
        f"SELECT id FROM annotation_item WHERE project_id = %s AND {where} "
        "ORDER BY id OFFSET %s LIMIT 1"
    )
    with psycopg.connect(database_url) as connection:
        row = connection.execute(sql, [project_id, *params, n - 1]).fetchone()
    return row[0] if row else None


def serve_random_predictions(database_url: str, project_id: int) -> int:
    """A serving ranking over every item, as a round writes one: a predicted class (by id)
    and a random confidence. Returns its id."""
    ranking_id = 1_000_000_000 + project_id
    classes = json.dumps([[name] for name in CLASSES])
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO annotation_ranking (id, project_id, status, created_at) "
            "VALUES (%s, %s, 'serving', now())",
            [ranking_id, project_id],
        )
        connection.execute(
            "INSERT INTO annotation_rankeditem "
            "(ranking_id, item_id, score, predicted, confidence, item_open) "
            "SELECT %s, id, random(), (%s::jsonb) -> (id %% %s)::int, random(), status = 'open' "
            "FROM annotation_item WHERE project_id = %s",
            [ranking_id, classes, len(CLASSES), project_id],
        )
        connection.execute("VACUUM ANALYZE annotation_rankeditem")
    return ranking_id


def api_cursor(after_id: int) -> str:
    """The cursor DRF's CursorPagination writes for "the ids after this one"."""
    return base64.b64encode(f"p={after_id}".encode()).decode()


def timed(http: httpx.Client, url: str, repeat: int) -> tuple[list[float], int]:
    times, status = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        response = http.get(url)
        times.append(time.perf_counter() - start)
        status = response.status_code
    return times, status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    database_url = fresh_postgres(DATABASE)
    env = server_env(
        database_url,
        Path(tempfile.mkdtemp()),
        HITL_KICK_ROUNDS="false",
        HITL_IMPORT_MAX_BYTES=str(1024 * 1024 * 1024),
    )
    with server(env) as (base, _):
        browser = signed_in(env, base, "reviewer")
        token = (
            manage(
                env,
                "shell",
                "-c",
                "from django.contrib.auth.models import User\nfrom annotation import tokens\n"
                "print('TOKEN' + tokens.issue(user=User.objects.get(username='reviewer'))[0])",
            )
            .split("TOKEN", 1)[1]
            .strip()
        )
        api = client(base, token)
        response = api.post("/api/v1/projects/", json={"name": "browser", "labels": CLASSES})
        response.raise_for_status()
        project = response.json()["id"]
        seconds = import_jsonl(api, project, pool_jsonl(args.items))
        print(f"imported {args.items:,} items in {seconds:.1f} s", flush=True)
        seconds = import_jsonl(api, project, labelled_rows(args.labelled))
        print(f"imported {args.labelled:,} labelled items in {seconds:.1f} s", flush=True)
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE annotation_item")

        ranking = serve_random_predictions(database_url, project)
        page = f"/projects/{project}/"
        listing = f"/api/v1/projects/{project}/items/"
        topic = f"{DOCUMENT} @@ websearch_to_tsquery('simple'::regconfig, %s)"
        cases = []
        for words, rarity in [("synth", "a topic word"), ("file", "a common word")]:
            where = f"status = 'open' AND {topic}"
            cursor = nth_match_id(database_url, project, where, [words], 50_000)
            filters = f"search={words}&status=open"
            cases += [
                (f"page: search '{words}' ({rarity}) + open, page 1", f"{page}?{filters}"),
                (
                    "page: the same, page 1,000",
                    f"{page}?{filters}&after={cursor}" if cursor else None,
                ),
            ]
        cases.append(
            (
                "page: search 'synth' + done + label audio, page 1",
                f"{page}?search=synth&status=done&label=audio",
            )
        )
        cases.append(
            ("page: search '#777777' (one item) + open", f"{page}?search=777777&status=open")
        )
        cases.append(("page: no filter, page 1", page))
        # one person's answers (an annotator's own page filters so), all at the end of the ids
        cases.append(
            ("page: annotator (20k answers, the last ids), page 1", f"{page}?annotator=reviewer")
        )
        unsure = (
            "status = 'open' AND EXISTS (SELECT 1 FROM annotation_rankeditem r "
            "WHERE r.item_id = annotation_item.id AND r.ranking_id = %s "
            "AND r.predicted -> 0 = to_jsonb(%s::text) AND r.confidence <= 0.5)"
        )
        cursor = nth_match_id(database_url, project, unsure, [ranking, CLASSES[0]], 50_000)
        filters = f"predicted={CLASSES[0]}&max_confidence=0.5&status=open"
        cases += [
            (f"page: predicted {CLASSES[0]} + sure <= 0.5 + open, page 1", f"{page}?{filters}"),
            ("page: the same, page 1,000", f"{page}?{filters}&after={cursor}" if cursor else None),
        ]
        # a search with two filters deep enough for a page 1,000: a common word, open, and
        # the model's predicted label (a label filter finds too few: only --labelled match)
        where = f"{topic} AND {unsure.replace(' AND r.confidence <= 0.5', '')}"
        cursor = nth_match_id(database_url, project, where, ["file", ranking, CLASSES[0]], 50_000)
        filters = f"search=file&status=open&predicted={CLASSES[0]}"
        cases += [
            (f"page: search 'file' + open + predicted {CLASSES[0]}, page 1", f"{page}?{filters}"),
            ("page: the same, page 1,000", f"{page}?{filters}&after={cursor}" if cursor else None),
        ]
        cursor = nth_match_id(
            database_url, project, f"status = 'open' AND {topic}", ["synth"], 49_950
        )
        cases += [
            ("API list: search 'synth' + open, page 1", f"{listing}?search=synth&status=open"),
            (
                "API list: the same, page 1,000 (page_size 50, cursor)",
                f"{listing}?search=synth&status=open&page_size=50&cursor={api_cursor(cursor)}"
                if cursor
                else None,
            ),
        ]
        rows = []
        for name, url in cases:
            if url is None:
                rows.append([name, "-", "-", "-", "fewer than 50,000 matches"])
                continue
            http = api if url.startswith("/api/") else browser
            http.get(url)  # warm: the plan cached, the pages read
            times, status = timed(http, url, args.repeat)
            rows.append([name, status, ms(percentile(times, 50)), ms(percentile(times, 99)), "100"])
        with psycopg.connect(database_url) as connection:
            ids = [
                r[0]
                for r in connection.execute(
                    "SELECT id FROM annotation_item WHERE project_id = %s AND status = 'done'",
                    [project],
                ).fetchall()
            ]
        rng = random.Random(5)
        times, status = [], 0
        for item in rng.sample(ids, min(args.repeat * 3, len(ids))):
            start = time.perf_counter()
            status = browser.get(f"/projects/{project}/items/{item}/").status_code
            times.append(time.perf_counter() - start)
        rows.append(
            [
                "item page, a labelled item (random)",
                status,
                ms(percentile(times, 50)),
                ms(percentile(times, 99)),
                "50",
            ]
        )
        table(
            f"The data browser over {args.items + args.labelled:,} items "
            f"(PostgreSQL; {args.repeat} requests each, one client)",
            ["case", "status", "p50 ms", "p99 ms", "target p99 ms"],
            rows,
        )


if __name__ == "__main__":
    main()
