"""PNG plots for the benchmark reports (the ``bench`` extra brings matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbtune.bench.latency import NO_INDEX
from dbtune.errors import MissingExtra

if TYPE_CHECKING:
    from dbtune.bench.pool_tune import Sweep
    from dbtune.bench.scaling import ScalePoint


def require_matplotlib() -> None:
    """Fail before an expensive run, not after it, when the ``bench`` extra is missing."""
    _pyplot()


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtra("matplotlib", "bench") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pool_plot(
    cells: dict[str, dict[int, tuple[float, float]]], recommended: int, clients: int, path: Path
) -> None:
    plt = _pyplot()
    fig, (ax_qps, ax_p95) = plt.subplots(1, 2, figsize=(11, 4))
    for driver, by_size in cells.items():
        sizes = sorted(by_size)
        ax_qps.plot(sizes, [by_size[s][0] for s in sizes], marker="o", label=driver)
        ax_p95.plot(sizes, [by_size[s][1] for s in sizes], marker="o", label=driver)
    for ax, label in ((ax_qps, "queries/s"), (ax_p95, "p95 latency, ms")):
        ax.set_xscale("log", base=2)
        ax.axvline(recommended, color="grey", linestyle="--", label=f"2 x CPU + 5 = {recommended}")
        ax.set_xlabel("pool max_size")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"{clients} concurrent clients, hot query; medians of ascending and descending runs"
    )
    _save(plt, fig, path)


def latency_plot(rows: dict[str, tuple[float, float, float]], floor_p50: float, path: Path) -> None:
    """Grouped bars of p50/p95/p99 (ms, log scale) per variant, with the SELECT 1 floor."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(rows)
    width = 0.25
    for i, label in enumerate(("p50", "p95", "p99")):
        ax.bar(
            [x + (i - 1) * width for x in range(len(names))],
            [rows[n][i] for n in names],
            width,
            label=label,
        )
    ax.axhline(floor_p50, color="grey", linestyle="--", label="SELECT 1 p50 (floor)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("ms (log scale)")
    ax.set_title("heaviest user's latest 20 messages, prepared, one client")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    _save(plt, fig, path)


def scaling_plot(points: Sequence[ScalePoint], path: Path) -> None:
    """p50 against rows on log-log axes, one line per variant and the floor, ratios labelled."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    rows = [p.rows for p in points]
    for variant in points[0].variants:
        ax.plot(rows, [p.variants[variant].heavy.p50_ms for p in points], marker="o", label=variant)
    ax.plot(rows, [p.floor.p50_ms for p in points], "--", color="grey", label="SELECT 1 (floor)")
    for p in points:
        ax.annotate(
            f"{p.speedup():,.0f}x",
            (p.rows, p.variants[NO_INDEX].heavy.p50_ms),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows in the table")
    ax.set_ylabel("p50 latency, ms")
    ax.set_title("heaviest user's latest 20 messages: no index over covering index, per size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(plt, fig, path)


def pool_tune_plot(result: Sweep, path: Path) -> None:
    """Throughput (median and the passes' range) and p95 against max_size."""
    plt = _pyplot()
    fig, (ax_qps, ax_p95) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = sorted(result.cells)
    medians = [result.median_qps(s) for s in sizes]
    low = [m - min(c.qps for c in result.cells[s]) for s, m in zip(sizes, medians, strict=True)]
    high = [max(c.qps for c in result.cells[s]) - m for s, m in zip(sizes, medians, strict=True)]
    ax_qps.errorbar(sizes, medians, yerr=[low, high], marker="o", capsize=3, label=result.driver)
    ax_p95.plot(sizes, [result.median_p95(s) for s in sizes], marker="o", label=result.driver)
    for ax, label in ((ax_qps, "queries/s"), (ax_p95, "p95 latency, ms")):
        ax.set_xscale("log", base=2)
        ax.axvline(
            result.recommended,
            color="grey",
            linestyle="--",
            label=f"2 x CPU + 5 = {result.recommended}",
        )
        ax.axvline(result.knee(), color="green", linestyle=":", label=f"knee = {result.knee()}")
        ax.set_xlabel("pool max_size")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"{result.clients} concurrent clients, the workload's reads; range of passes")
    _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> None:
    """Laid out, written at 100 dpi, closed (pyplot keeps every open figure otherwise)."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
