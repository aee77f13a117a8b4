"""The seed articles convzoo was built from, by title: the one table the tour, the playground
and the report read when they cite an article.

The articles are in Chinese (DESIGN.md's ``seeds/``); each row gives the title as the article
prints it, an English translation, where it comes from (as far as the copy says), and the
variants of the one vocabulary (:class:`convzoo.arithmetic.Variant`) it explains. Two copies
(002, 003) carry no title of their own: their headings stand in, and ``titled`` says so.

>>> article("000").english
'Convolutions in deep learning: an in-depth analysis and practice of their many kinds'
>>> cite("002")[:40]
'"什么是深度可分离卷积?" ("What is a depthwise sepa'
>>> cite("002").endswith("; seed 002, untitled: named by its heading)")
True
>>> [a.seed for a in articles_on("transposed")]
['000', '003', '004']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Article", "ARTICLES", "article", "articles_on", "cite"]


@dataclass(frozen=True)
class Article:
    """One seed article.

    Attributes:
        seed: its number (``'000'`` ... ``'004'``), the prefix of its file in ``seeds/``.
        title: the title as the article prints it (Chinese); for an untitled copy, its
            heading(s). english: the title in English.
        source: the author or site, as far as the copy names it.
        variants: the variants it explains (names of :class:`convzoo.arithmetic.Variant`).
        titled: False when the copy has no title (``title`` is then its heading(s)).
    """

    seed: str
    title: str
    english: str
    source: str
    variants: tuple[str, ...]
    titled: bool = True

    def cite(self) -> str:
        """``"<title>" ("<English>"; seed NNN)``: how every page names the article."""
        how = "" if self.titled else ", untitled: named by its heading"
        return f'"{self.title}" ("{self.english}"; seed {self.seed}{how})'


#: The five seed articles, in seed order.
ARTICLES: tuple[Article, ...] = (
    Article("000", "深度学习中多种卷积方式深度解析与实践",
            "Convolutions in deep learning: an in-depth analysis and practice of their many "
            "kinds", "by 码上有前 (Mashang Youqian), a blog post",
            ("conv3d", "transposed", "dilated", "separable", "flattened", "group", "shuffle",
             "shuffle_group")),
    Article("001", "Pytorch常用的函数(三)深度学习中常见的卷积操作详细总结",
            "Common PyTorch functions (3): a detailed summary of the usual convolutions in "
            "deep learning", "a CSDN blog post",
            ("conv", "group", "pointwise", "depthwise", "separable")),
    Article("002", "什么是深度可分离卷积?", "What is a depthwise separable convolution?",
            "a post on the 云栈社区 (Yunzhan community) forum",
            ("separable", "depthwise", "pointwise"), titled=False),
    Article("003", "一、微步卷积 / 二、空洞卷积",
            "1. Fractionally strided convolution / 2. Dilated convolution",
            "an untitled article (its source is not in the copy)",
            ("transposed", "subpixel", "pixel_shuffle", "dilated", "aspp", "wavenet"),
            titled=False),
    Article("004", "PyTorch 中特征变换:卷积与转置卷积",
            "Feature transforms in PyTorch: convolution and transposed convolution",
            "a news-site article", ("conv", "conv3d", "pointwise", "group", "transposed")),
)

_BY_SEED = {a.seed: a for a in ARTICLES}


def article(seed: str) -> Article:
    """The article of seed ``seed`` (``'000'`` ... ``'004'``)."""
    if seed not in _BY_SEED:
        raise ValueError(f"`seed` (={seed!r}) must be one of {', '.join(_BY_SEED)}")
    return _BY_SEED[seed]


def cite(seed: str) -> str:
    """How a page names the article of ``seed``: its title, in English, and its number."""
    return article(seed).cite()


def articles_on(variant: str) -> list[Article]:
    """The articles that explain ``variant`` (a name of the one vocabulary; aliases such as
    ``'grouped'`` are resolved by :func:`convzoo.arithmetic.variant`)."""
    from convzoo.arithmetic import variant as resolve

    name = resolve(variant)
    return [a for a in ARTICLES if name in {resolve(v) for v in a.variants}]
