"""Terminal tables of results (rich): what the CLI prints, kept out of the stages that compute."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_query_summary(summary: dict, console=None) -> None:
    """The terminal summary: per prompt, the share of points above the threshold and the top regions."""
    console = console or Console()
    table = Table(title=f"{summary['scene']}: {summary['points']:,} points scored against "
                        f"{summary['of']} features (threshold {summary['threshold']:g})")
    for col in ("prompt", "property", "max", "mean", f"share >= {summary['threshold']:g}", "top regions"):
        table.add_column(col, justify="left" if col in ("prompt", "top regions") else "right")
    for p in summary["prompts"]:
        regs = "\n".join(
            f"{r['points']:,} pts at ({', '.join(f'{c:.2f}' for c in r['centroid'])}), mean {r['mean_score']:.3f}"
            + (f", mostly {r['label']}" if "label" in r else "") for r in p["regions"]) or "none"
        table.add_row(p["prompt"], p["property"], f"{p['max']:.3f}", f"{p['mean']:.3f}",
                      f"{100 * p['share_above']:.1f}%", regs)
    console.print(table)
    console.print(f"wrote {summary['out']}")
