"""Five synthetic domains for the embedded demo, generated in code from a seed.

Each domain has its own vocabulary (entity names built from domain syllables, attribute and value
words, context phrases) and its own facts (entity, attribute -> value). The text shares one small
grammar, so a domain is recognisable only by its vocabulary:

* generic text (base pre-training): the grammar and vocabulary with *random* values, no facts;
* train text: every fact stated in three of four sentence templates plus one QA line;
* holdout text: every fact stated in its fourth, held-out template;
* QA items ask facts of the train text;
* the router stress suite comes from the generic generator (see `router_suite`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crma_eval.atomicio import write_jsonl

DOMAINS: tuple[str, ...] = ("medical", "legal", "finance", "code", "science")
QA_PROMPT = "Question: {question}\nAnswer:"
TEMPLATES: tuple[str, ...] = (
    "{ctx} , the {attr} of the {noun} {e} is {v} .",
    "the {noun} {e} has {v} as its {attr} .",
    "{ctx} , {e} is a {noun} whose {attr} is {v} .",
    "for the {noun} {e} , the {attr} is {v} .",
)
QUESTION = "what is the {attr} of the {noun} {e} ?"
QUERY_TEMPLATES: tuple[str, ...] = (
    QUESTION,
    "{ctx} , which {noun} has {v} as its {attr} ?",
    "tell me about the {noun} {e} and its {attr} .",
)
OOD_WORDS: tuple[str, ...] = (
    "recipe",
    "guitar",
    "holiday",
    "football",
    "garden",
    "poetry",
    "bicycle",
    "kitten",
    "umbrella",
    "sandwich",
    "ballet",
    "harbour",
    "picnic",
    "puzzle",
    "lantern",
    "teapot",
)
OOD_SYLLABLES: tuple[str, ...] = ("wub", "plo", "mif", "gna", "yup", "hov", "zee", "bram")


@dataclass(frozen=True)
class DomainSpec:
    """The vocabulary of one domain: entity noun and syllables, contexts, attribute values."""

    noun: str
    syllables: tuple[str, ...]
    contexts: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]]


SPECS: dict[str, DomainSpec] = {
    "medical": DomainSpec(
        "drug",
        ("ami", "zol", "cef", "pra", "dox", "lor", "vir", "tal"),
        ("in clinical practice", "the physician noted that", "per the pharmacology chart"),
        {
            "indication": ("fever", "asthma", "migraine", "anemia", "insomnia", "eczema"),
            "target organ": ("liver", "kidney", "heart", "lung", "spleen", "pancreas"),
            "dosing route": ("oral", "topical", "intravenous", "inhaled", "nasal"),
        },
    ),
    "legal": DomainSpec(
        "statute",
        ("jur", "lex", "tor", "ves", "quin", "dal", "mor", "sac"),
        ("under the civil code", "the judge ruled that", "as the counsel argued"),
        {
            "governed matter": ("contracts", "tenancy", "inheritance", "copyright", "custody"),
            "competent court": ("supreme", "appellate", "district", "tribunal", "chancery"),
            "usual penalty": ("fine", "injunction", "probation", "damages", "restitution"),
        },
    ),
    "finance": DomainSpec(
        "fund",
        ("fin", "cap", "kor", "bex", "mon", "tri", "val", "nex"),
        ("in the quarterly report", "the analyst noted that", "per the balance sheet"),
        {
            "market sector": ("energy", "banking", "retail", "utilities", "telecom", "mining"),
            "risk rating": ("conservative", "moderate", "elevated", "aggressive", "speculative"),
            "base currency": ("dollar", "euro", "yen", "franc", "peso", "rupee"),
        },
    ),
    "code": DomainSpec(
        "library",
        ("zig", "ruk", "pyx", "nod", "gux", "lum", "syn", "bit"),
        ("in the repository", "the maintainer wrote that", "per the changelog"),
        {
            "implementation language": ("python", "rust", "haskell", "golang", "kotlin", "erlang"),
            "software license": ("mit", "apache", "gpl", "bsd", "mozilla"),
            "main purpose": ("parsing", "caching", "logging", "hashing", "rendering"),
        },
    ),
    "science": DomainSpec(
        "mineral",
        ("geo", "kry", "thal", "ori", "neb", "sil", "fer", "quar"),
        ("in the laboratory", "the researchers observed that", "per the field survey"),
        {
            "crystal color": ("crimson", "azure", "ochre", "violet", "amber", "emerald"),
            "lattice system": ("cubic", "hexagonal", "monoclinic", "triclinic", "tetragonal"),
            "host rock": ("basalt", "granite", "limestone", "marble", "shale", "obsidian"),
        },
    ),
}


@dataclass(frozen=True)
class Size:
    """How much text the generator makes."""

    entities: int
    generic_per_domain: int
    qa_per_domain: int
    router_per_domain: int


SIZES: dict[str, Size] = {
    "full": Size(entities=12, generic_per_domain=600, qa_per_domain=20, router_per_domain=8),
    "small": Size(entities=4, generic_per_domain=80, qa_per_domain=6, router_per_domain=2),
}


@dataclass(frozen=True)
class Fact:
    """One fact of a domain: the `attribute` of `entity` is `value`."""

    entity: str
    attribute: str
    value: str


@dataclass
class DomainData:
    """All generated text of one domain."""

    name: str
    entities: list[str]
    facts: list[Fact]
    generic: list[str] = field(default_factory=list)
    train: list[str] = field(default_factory=list)
    holdout: list[str] = field(default_factory=list)
    qa: list[dict[str, str]] = field(default_factory=list)


@dataclass
class DemoCorpus:
    """The five domains (in training order) and the router stress suite."""

    seed: int
    domains: dict[str, DomainData]
    router_suite: list[dict[str, Any]]


def _rng(seed: int, *parts: str) -> random.Random:
    """A generator seeded by the seed and a purpose (string seeds are stable across runs)."""
    return random.Random("|".join((str(seed), *parts)))


def _entities(spec: DomainSpec, n: int, rng: random.Random) -> list[str]:
    pairs = [a + b for a in spec.syllables for b in spec.syllables if a != b]
    return rng.sample(pairs, n)


def _fill(template: str, spec: DomainSpec, rng: random.Random, **slots: str) -> str:
    """Fill a template; slots not given are drawn at random from the domain's vocabulary."""
    attr = slots.get("attr") or rng.choice(sorted(spec.attributes))
    values = {
        "ctx": rng.choice(spec.contexts),
        "noun": spec.noun,
        "attr": attr,
        "v": rng.choice(spec.attributes[attr]),
    }
    values.update(slots)
    return template.format(**values)


def _qa_line(question: str, answer: str) -> str:
    return QA_PROMPT.format(question=question) + " " + answer


def make_domain(name: str, seed: int, size: Size) -> DomainData:
    """Generate one domain: its facts, generic, train and holdout text and QA items."""
    spec, rng = SPECS[name], _rng(seed, name)
    entities = _entities(spec, size.entities, rng)
    facts = [
        Fact(e, attr, rng.choice(values))
        for e in entities
        for attr, values in spec.attributes.items()
    ]
    data = DomainData(name, entities, facts)
    for fact in facts:
        slots = {"e": fact.entity, "attr": fact.attribute, "v": fact.value}
        held = rng.randrange(len(TEMPLATES))
        for i, template in enumerate(TEMPLATES):
            (data.holdout if i == held else data.train).append(_fill(template, spec, rng, **slots))
        question = QUESTION.format(noun=spec.noun, **slots)
        data.train.append(_qa_line(question, fact.value))
    for _ in range(size.generic_per_domain):
        e = rng.choice(entities)
        if rng.random() < 0.2:
            attr = rng.choice(sorted(spec.attributes))
            question = QUESTION.format(noun=spec.noun, e=e, attr=attr)
            data.generic.append(_qa_line(question, rng.choice(spec.attributes[attr])))
        else:
            data.generic.append(_fill(rng.choice(TEMPLATES), spec, rng, e=e))
    asked = rng.sample(facts, min(size.qa_per_domain, len(facts)))
    data.qa = [
        {
            "item_id": f"{name}-qa-{i:02d}",
            "question": QUESTION.format(noun=spec.noun, e=f.entity, attr=f.attribute),
            "reference": f.value,
            "answer_type": "text",
        }
        for i, f in enumerate(asked)
    ]
    rng.shuffle(data.train)
    return data


def _query(domain: DomainData, rng: random.Random) -> str:
    return _fill(
        rng.choice(QUERY_TEMPLATES), SPECS[domain.name], rng, e=rng.choice(domain.entities)
    )


def _ood(rng: random.Random) -> str:
    made_up = rng.choice(OOD_SYLLABLES) + rng.choice(OOD_SYLLABLES)
    words = rng.sample(OOD_WORDS, 2)
    return f"what is the {words[0]} of the {words[1]} {made_up} ?"


def domain_queries(
    domains: dict[str, DomainData], seed: int, per_domain: int, purpose: str
) -> dict[str, list[str]]:
    """Per domain, `per_domain` queries in its vocabulary, drawn for `purpose` (the suite's
    held-out questions and the router's calibration split use different purposes)."""
    rng = _rng(seed, "queries", purpose)
    return {name: [_query(d, rng) for _ in range(per_domain)] for name, d in domains.items()}


def router_suite(
    domains: dict[str, DomainData], seed: int, per_domain: int
) -> list[dict[str, Any]]:
    """The router stress suite, made by the generic generator (crma_eval.plugins.router.suite):
    QA questions for boundary splices, fresh in-vocabulary queries as held-out in-domain
    questions, and OOD queries from the shipped set plus made-up words of no domain."""
    from crma_eval.plugins.router.suite import build_suite, read_texts
    from crma_eval.resources import ood_file

    rng = _rng(seed, "router")
    made_up = [_ood(rng) for _ in range(per_domain * len(domains))]
    return build_suite(
        qa={name: [item["question"] for item in d.qa] for name, d in domains.items()},
        holdout=domain_queries(domains, seed, 4 * per_domain, "suite"),
        ood=read_texts(ood_file()) + made_up,
        seed=seed,
        n_per_category=per_domain * len(domains),
    )


def generate(seed: int = 0, size: str = "full") -> DemoCorpus:
    """Generate the whole demo corpus deterministically from `seed`."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    domains = {name: make_domain(name, seed, SIZES[size]) for name in DOMAINS}
    return DemoCorpus(seed, domains, router_suite(domains, seed, SIZES[size].router_per_domain))


def all_text(corpus: DemoCorpus) -> list[str]:
    """Every line of text the corpus holds (the tokenizer's training text)."""
    lines: list[str] = []
    for data in corpus.domains.values():
        lines += data.generic + data.train + data.holdout
    return lines


@dataclass(frozen=True)
class CorpusFiles:
    """Where `write_corpus` put each file."""

    train: dict[str, Path]
    holdout: dict[str, Path]
    qa: dict[str, Path]
    router_suite: Path


def write_corpus(corpus: DemoCorpus, folder: str | Path) -> CorpusFiles:
    """Write train/holdout text ({"text": ...} per line), QA sets and the router suite as JSONL."""
    folder = Path(folder)

    def texts(kind: str, get: Any) -> dict[str, Path]:
        return {
            name: write_jsonl(folder / kind / f"{name}.jsonl", [{"text": t} for t in get(d)])
            for name, d in corpus.domains.items()
        }

    return CorpusFiles(
        train=texts("train", lambda d: d.train),
        holdout=texts("holdout", lambda d: d.holdout),
        qa={n: write_jsonl(folder / "qa" / f"{n}.jsonl", d.qa) for n, d in corpus.domains.items()},
        router_suite=write_jsonl(folder / "router_suite.jsonl", corpus.router_suite),
    )
