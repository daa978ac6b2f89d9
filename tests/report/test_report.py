"""Report renderer: structure (golden), escaping, self-containment, formatting, bad input."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from crma_eval.api.blocks import Figure, KeyValues, Paragraph, Section, Table
from crma_eval.api.plugin import Plugin
from crma_eval.errors import InputError
from crma_eval.figures import new_figure, svg_of
from crma_eval.report.render import format_value, render_report, safe_svg

GOLDEN = Path(__file__).parents[1] / "golden" / "report_structure.json"
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=1>']
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}


class Structure(HTMLParser):
    """Collects section ids, h2/h3 headings, table headers, tags and attributes; checks nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.headings: list[str] = []
        self.headers: list[list[str]] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.stack: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag == "section":
            self.sections.append(dict(attrs)["id"] or "")
        if tag in ("h2", "h3", "th"):
            self._text = []
        if tag == "thead":
            self.headers.append([])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack[-5:]}"
        self.stack.pop()
        if tag in ("h2", "h3", "th") and self._text is not None:
            text = " ".join("".join(self._text).split())
            if tag == "th":
                self.headers[-1].append(text)
            else:
                self.headings.append(f"{tag}: {text}")
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def parse(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


class AccuracyPlugin(Plugin):
    """A fake plugin drawing every block type from its details."""

    name = "qa"
    title = "Domain QA accuracy"
    kinds: ClassVar[tuple[str, ...]] = ("qa",)
    definitions: ClassVar[tuple[tuple[str, str], ...]] = (
        ("Accuracy", "k / n over a domain's items"),
        ("Wilson <interval>", "the score interval"),
    )

    def report_section(self, result: dict[str, Any]) -> Section:
        rows = [
            [r["domain"], r["arm"], r["k"], r["n"], r["acc"], r["p"]]
            for r in result["details"]["rows"]
        ]
        fig, ax = new_figure()
        ax.bar([r[0] for r in rows], [r[4] for r in rows])
        return Section(
            "qa",
            result["details"].get("title", self.title),
            [
                KeyValues([("with CRMA accuracy", 0.912345), ("McNemar p", 1.234e-5)], "Headline"),
                Paragraph(result["details"].get("note", "Accuracy per domain.")),
                Table(
                    ["domain", "arm", "k", "n", "accuracy (Wilson 95% CI)", "p"],
                    rows,
                    caption="Accuracy per domain, Wilson 95% intervals",
                ),
                Figure(svg_of(fig), caption="Accuracy by domain"),
            ],
            definitions=[("accuracy", "k / n")],
        )


class EmptyPlugin(Plugin):
    """A fake plugin without report content."""

    name = "spectral"
    title = "Spectral norm"


def results_doc(rows: list[dict[str, Any]] | None = None, **details: Any) -> dict[str, Any]:
    rows = rows or [
        {"domain": "medical", "arm": "with_crma", "k": 45, "n": 50, "acc": 0.9, "p": 0.0312},
        {"domain": "legal", "arm": "with_crma", "k": 40, "n": 50, "acc": 0.8, "p": 3.1e-7},
    ]
    return {
        "schema": "crma-eval/results/1",
        "metrics": {
            "qa.with_crma.accuracy": 0.85,
            "qa.with_crma_vs_without_crma.pvalue": 0.000123,
            "drift.modular.drift.mean": 1.23456,
            "spectral.all.max_dev": 1e-9,
        },
        "plugins": {
            "qa": {"details": {"rows": rows, **details}, "methods": {"ci": "wilson"}},
            "drift": {"details": {}, "methods": {}},
            "spectral": {"details": {}, "methods": {}},
        },
        "meta": {
            "versions": {"crma_eval": "0.1.0", "torch": "2.13.0"},
            "methods": {"qa": {"ci": "wilson", "test": "mcnemar-exact"}},
            "seeds": [0, 1, 2],
            "inputs": [{"path": "records/qa.jsonl", "sha256": "ab" * 32}],
            "config_hash": "c0ffee",
            "wall_time_s": 1.25,
            "created": "2025-01-01T00:00:00+00:00",
        },
    }


FAKES = {"qa": AccuracyPlugin(), "spectral": EmptyPlugin()}


def write_run(run: Path, doc: dict[str, Any]) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    (run / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    return run


def render(tmp_path: Path, doc: dict[str, Any], name: str = "run") -> str:
    path = render_report(write_run(tmp_path / name, doc), plugins=FAKES)
    return path.read_text(encoding="utf-8")


def test_structure_matches_golden(tmp_path: Path) -> None:
    page = parse(render(tmp_path, results_doc()))
    structure = {"sections": page.sections, "headings": page.headings, "tables": page.headers}
    if os.environ.get("CRMA_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(structure, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert structure == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_sections_follow_results_plugins_and_fixed_parts(tmp_path: Path) -> None:
    page = parse(render(tmp_path, results_doc()))
    assert page.sections == ["overview", "qa", "drift", "spectral", "definitions", "provenance"]
    assert "h2: Definitions and methods" in page.headings
    assert "h2: Provenance" in page.headings


def test_missing_plugin_gets_a_notice_and_its_metrics(tmp_path: Path) -> None:
    html = render(tmp_path, results_doc())
    drift = html[html.index('<section id="drift"') : html.index('<section id="spectral"')]
    assert "not installed" in drift
    assert "drift.modular.drift.mean" in drift and "1.235" in drift
    assert "qa.with_crma.accuracy" not in drift


def test_headline_keyvalues_appear_in_overview(tmp_path: Path) -> None:
    html = render(tmp_path, results_doc())
    overview = html[html.index('<section id="overview"') : html.index('<section id="qa"')]
    assert "with CRMA accuracy" in overview and "0.9123" in overview
    assert "1.23e-05" in overview


def test_definitions_and_provenance_are_printed(tmp_path: Path) -> None:
    html = render(tmp_path, results_doc())
    defs = html[html.index('<section id="definitions"') : html.index('<section id="provenance"')]
    # The definitions block holds the reported plugins' own definitions, escaped.
    assert "<dt>Accuracy</dt>" in defs and "<dt>Wilson &lt;interval&gt;</dt>" in defs
    prov = html[html.index('<section id="provenance"') :]
    for text in ("2.13.0", "mcnemar-exact", "ab" * 32, "c0ffee", "[0, 1, 2]", "records/qa.jsonl"):
        assert text in prov


@pytest.mark.parametrize("payload", XSS)
def test_untrusted_strings_are_escaped(tmp_path: Path, payload: str) -> None:
    rows = [{"domain": payload, "arm": payload, "k": 1, "n": 2, "acc": 0.5, "p": 0.5}]
    doc = results_doc(rows, title=payload, note=f"prediction: {payload}")
    doc["meta"]["versions"]["evil"] = payload
    doc["meta"]["created"] = payload
    doc["metrics"][f"qa.{payload}.accuracy"] = 0.5
    html = render(tmp_path, doc)
    assert payload not in html
    assert payload.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") in html
    page = parse(html)
    assert page.tags.count("script") == 1 and "img" not in page.tags  # only our own inline script
    assert not [a for a in page.attrs if a[1].startswith("on")]


def test_no_network_references(tmp_path: Path) -> None:
    html = render(tmp_path, results_doc())
    page = parse(html)
    refs = [v or "" for tag, k, v in page.attrs if k in ("src", "href", "xlink:href", "action")]
    assert refs, "expected internal links (table of contents)"
    local = ("#", "tables/", "items/")  # anchors and the exported files beside the report
    assert all(r.startswith(local) and ".." not in r for r in refs), refs
    assert not {"link", "img", "iframe"} & set(page.tags)
    assert ("script", "src") not in {(t, k) for t, k, _ in page.attrs}
    assert "@import" not in html and "url(http" not in html
    assert "https://" not in html  # matplotlib's metadata (with its URLs) is stripped


def test_figure_svg_is_inlined(tmp_path: Path) -> None:
    html = render(tmp_path, results_doc())
    qa = html[html.index('<section id="qa"') : html.index('<section id="drift"')]
    assert '<figure class="plot" id="qa-accuracy_by_domain">' in qa and "</svg>" in qa
    assert 'role="img" aria-label="Accuracy by domain"' in qa


@pytest.mark.parametrize(
    "svg",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><rect onload="alert(1)"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<image xlink:href="https://evil.example/x.png"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill: url(https://x/y)"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><a><set attributeName="href" '
        'to="javascript:alert(1)"/></a></svg>',
        "<p>not svg</p>",
        "<svg><unclosed></svg>",
    ],
)
def test_unsafe_svg_is_not_inlined(svg: str) -> None:
    out = str(safe_svg(svg))
    assert "Figure omitted" in out and "<svg" not in out


def test_matplotlib_svg_passes_the_check() -> None:
    fig, ax = new_figure()
    ax.imshow([[0.0, 1.0], [1.0, 0.0]])
    out = str(safe_svg(svg_of(fig)))
    assert out.startswith("<svg") and "<metadata>" not in out and "data:image/png" in out


def test_unknown_block_type_gets_a_notice(tmp_path: Path) -> None:
    class Odd:
        pass

    class OddPlugin(Plugin):
        name = "qa"
        title = "Odd"

        def report_section(self, result: dict[str, Any]) -> Section:
            return Section("qa", "Odd", [Odd(), Paragraph("after")])  # type: ignore[list-item]

    path = render_report(write_run(tmp_path / "r", results_doc()), plugins={"qa": OddPlugin()})
    html = path.read_text(encoding="utf-8")
    assert "cannot draw a block of type “odd”" in html and "<p>after</p>" in html


def test_section_ids_are_unique_and_do_not_shadow_fixed_parts(tmp_path: Path) -> None:
    class Clash(Plugin):
        name = "qa"
        title = "Clash"

        def report_section(self, result: dict[str, Any]) -> Section:
            return Section("provenance", "Clash")

    path = render_report(write_run(tmp_path / "r", results_doc()), plugins={"qa": Clash()})
    sections = parse(path.read_text(encoding="utf-8")).sections
    assert len(sections) == len(set(sections))
    assert sections[1] == "provenance-2"


def test_numbers_in_tables_are_formatted_by_column(tmp_path: Path) -> None:
    html = render(tmp_path, results_doc())
    assert '<td class="num">3.10e-07</td>' in html  # p column, below 1e-3
    assert '<td class="num">0.0312</td>' in html  # p column, above 1e-3
    assert '<td class="num">45</td>' in html  # integer stays an integer
    assert '<th scope="col" class="num">k</th>' in html  # numeric column header right-aligned


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        (0.123456, "", "0.1235"),
        (12.3456, "", "12.35"),
        (123456.7, "", "123500"),
        (45, "", "45"),
        (True, "", "yes"),
        (None, "", "—"),
        (float("nan"), "", "—"),
        (float("inf"), "", "∞"),
        (0.0, "", "0"),
        (2.5e-6, "", "2.500e-06"),
        (2.5e-6, "p-value", "2.50e-06"),
        (2.5e-4, "pvalue", "2.50e-04"),
        (2.5e-4, "mean", "0.00025"),
        (0.0312, "p", "0.0312"),
        (4.2e-5, "perm_p (floor 0.1)", "4.20e-05"),
        ("0.123456", "", "0.123456"),
        ([0.81234, 0.95678], "Wilson 95% CI", "[0.8123, 0.9568]"),
    ],
)
def test_format_value(value: Any, hint: str, expected: str) -> None:
    assert format_value(value, hint) == expected


def test_numpy_scalars_are_numbers() -> None:
    np = pytest.importorskip("numpy")
    assert format_value(np.int64(7)) == "7"
    assert format_value(np.float64(0.5555555)) == "0.5556"


def _bad_inputs(tmp_path: Path) -> list[tuple[Path, str]]:
    cases = []
    missing = tmp_path / "missing-results"
    missing.mkdir()
    cases.append((missing, "results.json"))
    bad_json = tmp_path / "bad-json"
    bad_json.mkdir()
    (bad_json / "results.json").write_text('{\n  "schema": "crma-eval/results/1",\n  oops\n}')
    cases.append((bad_json, "results.json:3"))
    schema = write_run(tmp_path / "schema", {**results_doc(), "schema": "other/2"})
    cases.append((schema, "field 'schema'"))
    metrics = write_run(tmp_path / "metrics", {**results_doc(), "metrics": {"a.b": "high"}})
    cases.append((metrics, "field 'metrics.a.b'"))
    return cases


def test_bad_input_names_the_file_and_keeps_old_report(tmp_path: Path) -> None:
    for run, expected in _bad_inputs(tmp_path):
        (run / "report.html").write_text("old report")
        with pytest.raises(InputError) as err:
            render_report(run, plugins=FAKES)
        assert str(run / "results.json") in str(err.value) and expected in str(err.value)
        assert (run / "report.html").read_text() == "old report"


def test_missing_run_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run directory not found"):
        render_report(tmp_path / "nope", plugins=FAKES)


def test_plugin_error_leaves_old_report_and_no_temp_files(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", results_doc())
    (run / "report.html").write_text("old report")

    class Broken(Plugin):
        name = "qa"
        title = "Broken"

        def report_section(self, result: dict[str, Any]) -> Section:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        render_report(run, plugins={"qa": Broken()})
    assert (run / "report.html").read_text() == "old report"
    render_report(run, plugins=FAKES)
    assert sorted(p.name for p in run.iterdir()) == ["report.html", "results.json", "tables"]
    assert not [p for p in run.rglob("*") if p.name.startswith(".")]


def test_real_plugins_render_and_gate(tmp_path: Path) -> None:
    """Integration: records -> analyze (installed plugins) -> report and gate on the same run."""
    from recordgen import loss_matrix, qa_arm, route, spectral, write

    from crma_eval.analyze import analyze_paths
    from crma_eval.gate import run_gate

    payload = XSS[0]
    records: list[dict[str, Any]] = []
    for domain in ("medical", payload):
        records += qa_arm("with_crma", domain, [i % 5 != 0 for i in range(20)], prediction=payload)
        records += qa_arm("without_crma", domain, [i % 2 == 0 for i in range(20)])
    for condition, factor in (("modular", 1.0), ("naive", 1.5)):
        for seed in (0, 1, 2):
            matrix = [[1.0, 2, 2], [factor, 1.0, 2], [factor, factor, 1.0]]
            records += loss_matrix(condition, seed, ["a", "b", "c"], matrix)
    for i in range(10):
        records.append(route(f"r{i}", "in_domain", "a", "a" if i % 3 else "b", 0.9))
        records.append(route(f"o{i}", "ood", None, None if i % 2 else "a", 0.3))
        records.append(spectral(i, "a", "crma.0", 1.0 + 1e-9 * i, row_sum_err=1e-9))
    run = tmp_path / "run"
    analyze_paths([write(tmp_path / "in.jsonl", records)], run)

    html = render_report(run).read_text(encoding="utf-8")
    page = parse(html)
    plugins = ["qa", "ablation", "drift", "cl", "router", "spectral"]  # the plugins' report order
    assert page.sections == ["overview", *plugins, "definitions", "provenance"]
    assert "not installed" not in html and "no report content" not in html
    assert payload not in html and page.tags.count("script") == 1
    links = [v for _, k, v in page.attrs if k in ("src", "href") and v]
    assert all(v.startswith(("#", "tables/", "items/")) for v in links)

    spec = write_spec_file(
        tmp_path,
        "gates:\n  - metric: 'spectral.*.max_dev'\n    max: 1.0e-6\n"
        "  - compare: 'qa.with_crma.*accuracy'\n",
    )
    report = run_gate(run, spec, run)
    assert report.passed and len(report.outcomes) >= 3
    assert all("p = 1 " in o.detail for o in report.outcomes if o.rule.kind == "compare")


def write_spec_file(folder: Path, text: str) -> Path:
    path = folder / "gates.yaml"
    path.write_text(text, encoding="utf-8")
    return path
