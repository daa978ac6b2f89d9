"""The `crma-eval router-suite` verb: write the suite, optionally print the domain overlap."""

from __future__ import annotations

from pathlib import Path

import click

from crma_eval.plugins.router.suite import (
    parse_pairs,
    read_texts,
    suite_from_files,
    write_suite,
)


def _print_overlap(checkpoint: Path, qa: dict[str, Path], out: Path) -> None:
    """Overlap of the QA texts in the checkpoint router's embedding space: printed, and written
    beside the suite as <out>.overlap.json."""
    import json

    from crma_eval import write_text_atomic
    from crma_eval.plugins.router.overlap import checkpoint_overlap

    overlap = checkpoint_overlap(str(checkpoint), {d: read_texts(p) for d, p in qa.items()})
    click.echo("domain overlap (router embeddings; margin = own centroid cos - best rival cos):")
    for r in overlap["per_domain"]:
        click.echo(
            f"  {r['domain']:<16} nearest {r['nearest_rival']:<16} centroid cos "
            f"{r['centroid_cosine']:.3f}  margin q05 {r['margin_q05']:+.3f} median "
            f"{r['margin_q50']:+.3f}  nearer rival {100 * r['share_negative']:.1f}%"
        )
    click.echo("pairs most likely confused:")
    for p in overlap["pairs"][:5]:
        click.echo(
            f"  {p['domain']} -> {p['rival']}: {100 * p['share_closer_to_rival']:.1f}% "
            f"of {p['domain']} texts nearer {p['rival']} (centroid cos {p['centroid_cosine']:.3f})"
        )
    path = out.with_name(out.name + ".overlap.json")
    write_text_atomic(path, json.dumps(overlap, indent=2) + "\n")
    click.echo(f"overlap: {path}")


@click.command("router-suite")
@click.option("--qa", "qa", multiple=True, required=True, help="DOMAIN=FILE (QA JSONL); repeat.")
@click.option("--holdout", multiple=True, help="DOMAIN=FILE of held-out questions; repeat.")
@click.option("--ood", multiple=True, type=click.Path(path_type=Path), help="More OOD JSONL.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Suite JSONL.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-per-category", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Print domain overlap.")
def router_suite(
    qa: tuple[str, ...],
    holdout: tuple[str, ...],
    ood: tuple[Path, ...],
    out: Path,
    seed: int,
    n_per_category: int,
    checkpoint: Path | None,
) -> None:
    """Write a router stress suite from your domains (README: Router stress testing); print
    counts per category (and the domain overlap with --checkpoint)."""
    qa_files = parse_pairs(qa, "--qa")
    items = suite_from_files(
        qa_files, parse_pairs(holdout, "--holdout"), list(ood), seed, n_per_category
    )
    write_suite(items, out)
    counts: dict[str, int] = {}
    for item in items:
        counts[item["category"]] = counts.get(item["category"], 0) + 1
    click.echo(f"suite: {out} ({', '.join(f'{c} {n}' for c, n in counts.items())})")
    if checkpoint is not None:
        _print_overlap(checkpoint, qa_files, out)
