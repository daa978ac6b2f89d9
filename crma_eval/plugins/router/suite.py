"""Router stress suites generated from the user's own domains (`crma-eval router-suite`).

Categories (the `route`-suite format: item_id, query, category, gold, plus `source`,
`perturbation`, `acceptable` where they apply):

* in_domain: held-out questions of a domain (the `--holdout` file, else its QA file); gold it.
* perturbed: an in-domain question with one named perturbation (typo, case, punctuation,
  word_drop, truncation, prefix); always differs from its source; gold its domain.
* boundary: a question of domain A after a sentence of domain B ("B text. A question"); gold A,
  the domain whose answer is asked.
* ambiguous: a request with no domain content; every domain is `acceptable` (gold one of them,
  drawn by the seed, so the query stays in-distribution).
* ood: general-knowledge questions (tasks/router_stress/ood.jsonl, written for this project,
  installed as crma_eval.tasks: crma_eval.resources.ood_file())
  plus any `--ood` files; gold always null (texts that are a domain's question are left out).

Refused (InputError): a question under two domains (contradictory gold labels), a query with no
letter or digit. Time is linear in n_per_category.

Every draw comes from random.Random seeded by (seed, purpose), so one seed gives byte-identical
output on every platform.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crma_eval import InputError, ood_file, read_jsonl, write_text_atomic

TEXT_FIELDS = ("question", "query", "text")
PREFIXES = (
    "Question: ",
    "Please answer: ",
    "Hey, quick one - ",
    "You are a helpful assistant. ",
    "Q: ",
    "Can you tell me this? ",
)
AMBIGUOUS = (
    "Can you help me with this?",
    "What is the answer?",
    "Explain that again, please.",
    "I have a question.",
    "Tell me more.",
    "What do you think?",
    "Is that right?",
    "Could you clarify the last point?",
    "Give me a short summary.",
    "What should I do next?",
    "Why is that?",
    "Can you check my reasoning?",
)


def read_texts(path: Path) -> list[str]:
    """The query text of each JSONL row (first of question, query, text); InputError if none."""
    texts = []
    for line, row in read_jsonl(Path(path), ()):
        value = next((row[f] for f in TEXT_FIELDS if isinstance(row.get(f), str)), None)
        if value is None or not any(c.isalnum() for c in value):
            raise InputError(
                f"needs a text field ({', '.join(TEXT_FIELDS)}) with at least one letter or"
                " digit (an empty or punctuation-only query routes nothing)",
                path=path, line=line,
            )  # fmt: skip
        texts.append(value.strip())
    return texts


def _typo(q: str, rng: random.Random) -> str:
    words = q.split(" ")
    long = [i for i, w in enumerate(words) if len(w) > 3]
    if not long:
        return q
    i = rng.choice(long)
    j = rng.randrange(len(words[i]) - 1)
    w = words[i]
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def _case(q: str, rng: random.Random) -> str:
    return rng.choice((str.upper, str.lower, str.swapcase))(q)


def _punctuation(q: str, rng: random.Random) -> str:
    stripped = "".join(c for c in q if c.isalnum() or c.isspace())
    return stripped if stripped != q else q + rng.choice(("??", "!!", " ...", " ?!"))


def _word_drop(q: str, rng: random.Random) -> str:
    words = q.split()
    if len(words) < 3:
        return q
    del words[rng.randrange(len(words))]
    return " ".join(words)


def _truncation(q: str, rng: random.Random) -> str:
    words = q.split()
    if len(words) < 3:
        return q
    return " ".join(words[: rng.randrange(max(2, len(words) // 2), len(words))])


def _prefix(q: str, rng: random.Random) -> str:
    return rng.choice(PREFIXES) + q


PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "typo": _typo,
    "case": _case,
    "punctuation": _punctuation,
    "word_drop": _word_drop,
    "truncation": _truncation,
    "prefix": _prefix,
}


def perturb(query: str, rng: random.Random) -> tuple[str, str]:
    """(name, perturbed query): a seeded perturbation that changes the query (prefix always
    does, so one is always found)."""
    names = list(PERTURBATIONS)
    rng.shuffle(names)
    for name in names:
        out = PERTURBATIONS[name](query, rng)
        if out != query:
            return name, out
    raise AssertionError("the prefix perturbation always changes a query")


def _balanced(sources: dict[str, list[str]], n: int, rng: random.Random) -> list[tuple[str, str]]:
    """n (domain, text) pairs, domains in turn, texts drawn without replacement while they last."""
    pools = {d: rng.sample(texts, len(texts)) for d, texts in sources.items()}
    domains = sorted(sources)
    return [
        (d, pools[d][(i // len(domains)) % len(pools[d])])
        for i in range(n)
        for d in [domains[i % len(domains)]]
    ]


def _norm(text: str) -> str:
    """A question as compared for duplicates: case and spacing ignored."""
    return " ".join(text.casefold().split())


def _refuse_contradictions(sources: dict[str, list[str]]) -> dict[str, str]:
    """Normalised text -> its domain; InputError when one question is under two domains (it
    would be kept with contradictory gold labels). Keys of `sources` are "qa D"/"holdout D"."""
    owners: dict[str, str] = {}
    for source, texts in sources.items():
        domain = source.split(" ", 1)[1]
        for text in texts:
            seen = owners.setdefault(_norm(text), domain)
            if seen != domain:
                raise InputError(
                    f"the question {text[:80]!r} is under two domains ({seen!r} and {domain!r}):"
                    " its gold label would contradict itself; keep it in one domain's file"
                )
    return owners


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"{seed}|router-suite|{purpose}")


def build_suite(
    qa: dict[str, list[str]],
    holdout: dict[str, list[str]] | None = None,
    ood: list[str] | None = None,
    seed: int = 0,
    n_per_category: int = 50,
) -> list[dict[str, Any]]:
    """Suite items of every category (n_per_category each; OOD capped by the OOD texts given).

    qa / holdout: domain -> question texts (in_domain and perturbed draw from holdout when a
    domain has one, else from qa; boundary splices qa texts). ood: OOD questions (default: the
    shipped set). Raises InputError with fewer than two domains or an empty domain.
    """
    if len(qa) < 2:
        raise InputError("router-suite needs at least two domains (--qa DOMAIN=FILE ...)")
    held = {d: (holdout or {}).get(d) or texts for d, texts in qa.items()}
    for domain, texts in {**qa, **held}.items():
        if not texts:
            raise InputError(f"domain {domain!r} has no questions")
    owners = _refuse_contradictions(
        {
            **{f"qa {d}": t for d, t in qa.items()},
            **{f"holdout {d}": t for d, t in (holdout or {}).items()},
        }
    )
    ood_given = ood if ood is not None else read_texts(ood_file())
    ood_texts = [t for t in ood_given if _norm(t) not in owners]  # a domain's question: not OOD
    domains = sorted(qa)
    items: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()

    def add(category: str, query: str, gold: str | None, **extra: Any) -> None:
        if not any(c.isalnum() for c in query):
            return  # never write an empty query (inputs hold a letter or digit, so unreachable)
        n = counts[category]
        counts[category] += 1
        items.append(
            {"item_id": f"{category}-{n:04d}", "query": query, "category": category,
             "gold": gold, **extra}
        )  # fmt: skip

    for domain, text in _balanced(held, n_per_category, _rng(seed, "in_domain")):
        add("in_domain", text, domain)
    rng = _rng(seed, "perturbed")
    for domain, text in _balanced(held, n_per_category, rng):
        name, query = perturb(text, rng)
        add("perturbed", query, domain, source=text, perturbation=name)
    rng = _rng(seed, "boundary")
    for domain, text in _balanced(qa, n_per_category, rng):
        other = rng.choice([d for d in domains if d != domain])
        add("boundary", f"{rng.choice(qa[other]).rstrip('?.! ')}. {text}", domain, rival=other)
    rng = _rng(seed, "ambiguous")
    for i in range(n_per_category):
        add("ambiguous", AMBIGUOUS[i % len(AMBIGUOUS)], rng.choice(domains), acceptable=domains)
    for text in _rng(seed, "ood").sample(ood_texts, min(n_per_category, len(ood_texts))):
        add("ood", text, None)
    return items


def write_suite(items: list[dict[str, Any]], out: Path) -> Path:
    """Write suite items as JSON Lines (UTF-8, fixed key order), atomically."""
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    return write_text_atomic(Path(out), text)


def parse_pairs(values: tuple[str, ...], option: str) -> dict[str, Path]:
    """DOMAIN=FILE arguments as a dict; a malformed or repeated one is an InputError."""
    out: dict[str, Path] = {}
    for value in values:
        domain, sep, file = value.partition("=")
        if not sep or not domain or not file:
            raise InputError(f"{option} expects DOMAIN=FILE, got {value!r}")
        if domain in out:
            raise InputError(f"{option}: domain {domain!r} given twice")
        out[domain] = Path(file)
    return out


def suite_from_files(
    qa: dict[str, Path],
    holdout: dict[str, Path],
    ood: list[Path],
    seed: int,
    n_per_category: int,
) -> list[dict[str, Any]]:
    """build_suite on the texts of the given files (shipped OOD set first, then `ood` files)."""
    unknown = sorted(set(holdout) - set(qa))
    if unknown:
        raise InputError(f"--holdout names domains without --qa: {', '.join(unknown)}")
    ood_texts = read_texts(ood_file()) + [t for p in ood for t in read_texts(p)]
    return build_suite(
        {d: read_texts(p) for d, p in qa.items()},
        {d: read_texts(p) for d, p in holdout.items()},
        list(dict.fromkeys(ood_texts)),
        seed,
        n_per_category,
    )
