"""Terminal tables of results (rich): what the CLI prints, kept out of the stages that compute."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from geopurify.pipeline.vocabulary import POINTS


def print_query_summary(summary: dict, console=None) -> None:
    """The terminal summary: per prompt, the share of points above the threshold and the top regions."""
    console = console or Console()
    table = Table(title=f"{summary['scene']}: {summary[POINTS]:,} points scored against "
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


def print_score_table(result: dict, console=None) -> None:
    """The per-class table and the means, with rich; says which classes were left out and why."""
    console = console or Console()
    table = Table(title=f"{result['of']} vs ground truth — protocol {result['protocol']}, "
                        f"{len(result['scenes'])} scene(s)")
    for col in ("class", POINTS, "IoU %", "Acc %"):
        table.add_column(col, justify="left" if col == "class" else "right")
    fmt = lambda x: "—" if x is None else f"{x:.1f}"  # noqa: E731
    for row in result["per_class"]:
        name = row["class"] if row["present"] else f"[dim]{row['class']} (absent)[/dim]"
        table.add_row(name, str(row[POINTS]), fmt(row["iou"]), fmt(row["acc"]))
    table.add_section()
    table.add_row("[bold]mIoU / mAcc[/bold]", str(result["evaluated_points"]), f"[bold]{fmt(result['miou'])}[/bold]",
                  f"[bold]{fmt(result['macc'])}[/bold]")
    if result.get("fmiou_excludes") and result["protocol"] not in ("scannet19", "scannet20"):
        table.add_row(f"f-mIoU (without {', '.join(result['fmiou_excludes'])})", "", fmt(result["fmiou"]), "")
    for name, value in (result.get("splits") or {}).items():
        table.add_row(f"mIoU {name}", "", fmt(value), "")
    table.add_row("overall accuracy", "", "", fmt(result["oacc"]))
    console.print(table)
    if result["absent_classes"]:
        console.print(f"Absent from the ground truth, excluded from mIoU and mAcc: "
                      f"{', '.join(result['absent_classes'])}")
