"""The listing verbs: `plugins` (entry-point group crma_eval.plugins) and `docs` (the installed
user guides)."""

from __future__ import annotations

from pathlib import Path

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


@click.command("docs")
@click.argument("name", required=False)
@click.option("--path", "as_path", is_flag=True, help="Print the guide's file path, not its text.")
def docs(name: str | None, as_path: bool) -> None:
    """List the user guides installed with the package, or print guide NAME (Markdown)."""
    from crma_eval.resources import guide, guides

    if name is None:
        for stem, path in guides().items():
            title = next((x.lstrip("# ").strip() for x in _lines(path) if x.startswith("#")), "")
            click.echo(f"{stem:<10} {title}")
        click.echo("print one: crma-eval docs NAME (add --path for its file)")
        return
    path = guide(name)
    click.echo(str(path) if as_path else path.read_text(encoding="utf-8"), nl=as_path)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()
