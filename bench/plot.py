"""The throughput plot: requests/s against concurrency, GraphQL and floor, per scenario."""

from __future__ import annotations

from pathlib import Path


def throughput_plot(cells: dict, scenarios, concurrencies, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in scenarios if any((s, c) in cells for c in concurrencies)]
    cols = 2 if len(scenarios) > 1 else 1
    rows = (len(scenarios) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), squeeze=False)
    for ax, scenario in zip((a for row in axes for a in row), scenarios):
        xs = [c for c in concurrencies if (scenario, c) in cells]
        g = [cells[(scenario, c)].graphql_rps for c in xs]
        f = [cells[(scenario, c)].floor_rps for c in xs]
        ax.plot(xs, f, marker="o", label="floor (bare Starlette + PyMongo)")
        ax.plot(xs, g, marker="s", label="GraphQL (Strawberry)")
        for x, gv, fv in zip(xs, g, f):
            if fv:
                ax.annotate(f"{gv / fv:.0%}", (x, gv), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_ylim(bottom=0)
        ax.set_title(scenario)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("requests/s (median of runs)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in [a for row in axes for a in row][len(scenarios):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
