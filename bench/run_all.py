"""Run every benchmark in turn and print their tables (about ten minutes on 2 cores).

Needs PostgreSQL at BENCH_PG_ADMIN (default postgres://postgres@127.0.0.1:5432/postgres) and
Redis at 127.0.0.1:6379. Run: .venv/bin/python bench/run_all.py
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ["bench_import.py"],
    ["bench_next_item.py"],
    ["bench_concurrency.py", "--db", "postgres", "--seconds", "30"],
    ["bench_concurrency.py", "--db", "sqlite", "--items", "20000", "--seconds", "30"],
    ["bench_export.py"],
]

if __name__ == "__main__":
    for run in RUNS:
        subprocess.run([sys.executable, str(HERE / run[0]), *run[1:]], check=True)
