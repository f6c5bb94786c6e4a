"""Learning-curve plots for the docs, as plain SVG (no plotting library to install): mean test
accuracy against labels spent, one line per strategy (pure core) and one for the platform run.

Reads a pure-core curves file (docs/label-efficiency-core.json, every strategy, unless --core
names another) and docs/label-efficiency-platform.json (unless --platform names another; both
written by the two label-efficiency benchmarks); writes docs/plots/learning-curve-<data set>.svg.

Random run through the platform is drawn too where its curves exist (--platform-random).

Run: .venv/bin/python bench/plot_curves.py [--core docs/label-efficiency-core-20-seeds.json]
    [--platform docs/label-efficiency-platform-20-seeds.json]
    .venv/bin/python bench/plot_curves.py --core-only --prefix strategies   # every strategy
"""

import argparse
import json
import warnings
from html import escape
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent.parent / "docs"
COLOURS = {
    "random": "#888888",
    "least_confidence": "#1f77b4",
    "margin": "#2ca02c",
    "entropy": "#9467bd",
    "committee": "#8c564b",
    "diverse_margin": "#d62728",
    "platform (3 annotators)": "#ff7f0e",
    "random, platform (3 annotators)": "#17becf",
}
WIDTH, HEIGHT, PAD = 720, 420, 50


def mean_curve(runs: list[dict], limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Each run's accuracy as a step function of labels, averaged on a common grid."""
    grid = np.arange(1, limit + 1)
    rows = []
    for run in runs:
        points = sorted((p[0], p[1]) for p in run["curve"])
        if not points:
            continue
        labels = np.array([n for n, _ in points])
        accuracy = np.array([a for _, a in points])
        index = np.searchsorted(labels, grid, side="right") - 1
        rows.append(np.where(index >= 0, accuracy[np.clip(index, 0, None)], np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # before the first point of every run: no mean, a gap
        return grid, np.nanmean(np.array(rows), axis=0)


def svg(title: str, lines: dict[str, tuple], limit: int, mark: float) -> str:
    def x(n):
        return PAD + (WIDTH - 2 * PAD) * n / limit

    def y(acc):
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * acc

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{PAD}" y="20" font-size="14">{escape(title)}</text>',
    ]
    for tick in np.linspace(0, 1, 6):
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#eee"/>'
            f'<text x="{PAD - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.1f}</text>'
        )
    for tick in np.linspace(0, limit, 6).astype(int):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{HEIGHT - PAD + 16}" text-anchor="middle">{tick}</text>'
        )
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" text-anchor="middle">labels spent</text>'
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(mark):.1f}" y2="{y(mark):.1f}" '
        'stroke="#000" stroke-dasharray="4 4"/>'
        f'<text x="{PAD + 6}" y="{y(mark) - 4:.1f}">95% of full-pool accuracy</text>'
    )
    for row, (name, (grid, accuracy)) in enumerate(lines.items()):
        colour = COLOURS.get(name, "#000")
        points = " ".join(
            f"{x(n):.1f},{y(a):.1f}" for n, a in zip(grid, accuracy, strict=True) if a == a
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{points}"/>'
            f'<rect x="{WIDTH - PAD - 170}" y="{HEIGHT - PAD - 20 - 16 * row}" width="10" '
            f'height="10" fill="{colour}"/>'
            f'<text x="{WIDTH - PAD - 155}" y="{HEIGHT - PAD - 11 - 16 * row}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--core", type=Path, default=DOCS / "label-efficiency-core.json")
    parser.add_argument("--platform", type=Path, default=DOCS / "label-efficiency-platform.json")
    parser.add_argument(
        "--platform-random",
        type=Path,
        default=DOCS / "label-efficiency-platform-random.json",
        help="random run through the platform (bench_platform_efficiency --set strategy=random)",
    )
    parser.add_argument(
        "--core-only", action="store_true", help="the core's strategies alone, no platform line"
    )
    parser.add_argument("--prefix", default="learning-curve", help="the plots' file names")
    args = parser.parse_args()
    core = json.loads(args.core.read_text())
    platform, platform_random = {}, {}
    if not args.core_only:
        if args.platform.exists():
            platform = json.loads(args.platform.read_text())
        if args.platform_random.exists():
            platform_random = json.loads(args.platform_random.read_text())
    (DOCS / "plots").mkdir(exist_ok=True)
    for name, by_strategy in core.items():
        limit = max(p[0] for r in by_strategy["diverse_margin"] for p in r["curve"])
        full = float(np.mean([r["full_pool_accuracy"] for r in by_strategy["random"]]))
        lines = {s: mean_curve(runs, limit) for s, runs in by_strategy.items()}
        seeds = f"{len(by_strategy['random'])} seeds"
        if platform.get(name):
            lines["platform (3 annotators)"] = mean_curve(platform[name], limit)
            seeds += f", platform {len(platform[name])}"
        if platform_random.get(name):
            lines["random, platform (3 annotators)"] = mean_curve(platform_random[name], limit)
            seeds += f", platform random {len(platform_random[name])}"
        out = DOCS / "plots" / f"{args.prefix}-{name}.svg"
        title = f"{name}: mean test accuracy ({seeds})"
        out.write_text(svg(title, lines, limit, 0.95 * full))
        print(out)


if __name__ == "__main__":
    main()
