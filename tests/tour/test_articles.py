"""The seed articles by title: one table (convzoo.tour.articles) that the tour, the playground
and the report read, so that no page says "seed 000" or "the article" without naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from convzoo.arithmetic import Variant, variant
from convzoo.cli.tour import render
from convzoo.tour import LAYER_EXAMPLES
from convzoo.tour.articles import ARTICLES, article, articles_on, cite

SEEDS = Path("/work/shared/seeds")


def test_one_row_per_seed_each_with_a_title_a_translation_and_known_variants():
    assert [a.seed for a in ARTICLES] == ["000", "001", "002", "003", "004"]
    assert {ex.seed for ex in LAYER_EXAMPLES} <= {a.seed for a in ARTICLES}
    names = {v.value for v in Variant}
    for a in ARTICLES:
        assert a.title and a.english.isascii() and a.source and a.variants
        assert {variant(v).value for v in a.variants} <= names
        assert cite(a.seed).startswith(f'"{a.title}" ("{a.english}"; seed {a.seed}')
    assert [a.seed for a in articles_on("grouped")] == ["000", "001", "004"]  # an alias
    with pytest.raises(ValueError, match=r"^`seed` \(='005'\) must be one of 000, 001, 002"):
        article("005")


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed articles are not on this machine "
                    "(/work/shared/seeds)")
def test_titles_are_the_articles_own_words():
    for a in ARTICLES:
        (path,) = SEEDS.glob(f"{a.seed}_*.txt")
        text = path.read_text(encoding="utf-8")
        for part in a.title.split(" / "):  # an untitled copy: its headings, as printed
            assert part in text, (a.seed, part)
        if a.titled:
            assert a.title in text.splitlines()[:12], a.seed  # a title opens the article


def test_the_tour_names_every_article_by_title(capsys):
    render(Console(width=250, force_terminal=False))
    out = capsys.readouterr().out
    for a in ARTICLES:
        assert a.english in out and f"seed {a.seed}: {a.title}" in out
    assert "the article (seed 004) says (1, 3, 32, 32), the arithmetic gives (1, 3, 31, 31)" \
        in out
