"""The `crma-eval plugins` verb: the installed plugins (entry-point group crma_eval.plugins)."""

from __future__ import annotations

import click

from crma_eval.verbs.common import echo_json


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_plugins(as_json: bool) -> None:
    """List installed plugins (entry-point group crma_eval.plugins)."""
    from crma_eval.api.registry import plugins

    rows = [
        {
            "name": name,
            "title": p.title,
            "kinds": list(p.kinds),
            "declares": [k.name for k in p.record_kinds],
            "collects": bool(p.collector),
            "data": dict(p.data),
            "options": p.options_model is not None,
        }
        for name, p in plugins().items()
    ]
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'plugin':<10} {'reads':<10} {'declares':<10} {'steps':<16} title")
    for row in rows:
        kinds = ",".join(map(str, row["kinds"]))  # type: ignore[call-overload]
        declares = ",".join(map(str, row["declares"])) or "-"  # type: ignore[call-overload]
        steps = "collect+analyze" if row["collects"] else "analyze"
        click.echo(f"{row['name']:<10} {kinds:<10} {declares:<10} {steps:<16} {row['title']}")
