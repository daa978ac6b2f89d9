"""Report layout helpers: wide tables drawn in parts that keep every column, long names that
may wrap while numbers never break."""

from __future__ import annotations

import pytest

from crma_eval.report.render import MAX_COLUMNS, column_parts, nobreak_numbers


@pytest.mark.parametrize("n", [0, 1, 2, 13, 14, 15, 26, 27, 40, 100])
def test_column_parts_keep_every_column_once_and_repeat_the_labels(n: int) -> None:
    parts = column_parts(list(range(n)))
    flat = [i for part in parts for i in part[1:]]
    assert all(len(part) <= MAX_COLUMNS for part in parts)
    if n <= MAX_COLUMNS:
        assert parts == [list(range(n))]
    else:
        assert all(part[0] == 0 for part in parts) and flat == list(range(1, n))
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 1  # balanced, no stub part


def test_long_names_with_digits_may_wrap_numbers_never() -> None:
    name = "domain_07_" + "abcdefgh" * 5
    assert 'class="nw"' not in str(nobreak_numbers(name))
    assert str(nobreak_numbers("5.76e-20")) == '<span class="nw">5.76e-20</span>'
    mixed = str(nobreak_numbers(f"{name} 12.5%"))
    assert '<span class="nw">12.5%</span>' in mixed and f'<span class="nw">{name}' not in mixed
    assert "&lt;b&gt;" in str(nobreak_numbers("<b>1</b> " + name))  # still escaped
