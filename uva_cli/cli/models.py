"""`uva models`: the registry as a table."""

from __future__ import annotations

import click


@click.command("models")
def command():
    """List the shipped models: input size, parameters, file size, validation scores."""
    from rich.console import Console
    from rich.table import Table

    from ..models.registry import manifest

    # scores: cross-validated where the model was trained on every video (see its card)
    table = Table("model", "input", "parameters", "file", "NSS", "CC", "AUC-J", "sha256",
                  caption="NSS, CC, AUC-J: cross-validated on videos each model never saw (see its card)")
    for name, row in manifest().items():
        val = row.get("validation", {})
        fmt = lambda k: f"{val[k]:.3f}" if val.get(k) is not None else "–"  # noqa: E731
        table.add_row(name, f"{row['input_size']}x{row['input_size']}", f"{row['parameters']:,}",
                      f"{row['bytes'] / 1e6:.2f} MB", fmt("nss"), fmt("cc"), fmt("auc_judd"), row["sha256"][:12])
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    console.print(table)
