"""A standalone HTML page: one file, its CSS inline, no script and no URL outside the report's own
folder, so it opens the same from disk, a CI artifact or a mail attachment.

Every value reaches the page through `esc`, here and only here: the builders return `Html` (text
already escaped), so callers compose pages without ever writing markup from raw strings.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

NA = "n/a"
"""What a missing or non-numeric value shows as."""
CSP = "default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'"
"""Nothing but our inline CSS and images beside the page may load, even if escaping ever failed."""
CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1d232b; margin: 1.5rem auto;
       max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccd3db; }
h3 { margin-top: 1.4rem; font-size: 1.05rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d5dbe1; padding: .25rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f1f4f7; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-weight: 700; padding: 0 .4rem; border-radius: 3px; }
.verdict.pass { color: #0f5b24; background: #dcf3e2; }
.verdict.fail { color: #8a1111; background: #fbdede; }
.verdict.unknown { color: #555; background: #eee; }
.note { color: #555; font-style: italic; } .error { color: #8a1111; }
figure { margin: .5rem 0 1.5rem; } figure img { max-width: 100%; border: 1px solid #e2e6ea; }
figcaption { color: #555; font-size: .9rem; }
"""
_ATTRIBUTE_NAMES = {"cls": "class"}


class Html(str):
    """Markup built by this module, its values already escaped; `esc` passes it through."""

    __slots__ = ()


def esc(value: object) -> Html:
    """Text safe in element content and in double-quoted attributes; None shows as n/a."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(NA if value is None else str(value), quote=True))


def join(parts: Iterable[object]) -> Html:
    return Html("".join(esc(part) for part in parts))


def number(value: object, spec: str = ".1f") -> str:
    """`value` formatted by `spec`, or n/a for anything that is not a number (reports from older
    runs, or fields a failed run never filled)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NA
    if not math.isfinite(value):
        return str(value)
    if spec.endswith("d"):
        value = round(value)
    return format(value, spec)


def percent(value: object) -> str:
    """A fraction (0.0123) as a percentage (1.23%), or n/a."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NA
    return f"{value:.2%}"


def tag(name: str, /, *content: object, **attrs: object) -> Html:
    """`<name attrs>content</name>`; `cls` stands for `class`, `_` in a name for `-`, and an
    attribute whose value is "" or None is left out."""
    return Html(f"<{name}{_attributes(attrs)}>{join(content)}</{name}>")


def verdict(ok: object) -> Html:
    """PASS/FAIL with the `verdict pass`/`verdict fail` classes; n/a when the report has none."""
    if ok is True:
        return tag("span", "PASS", cls="verdict pass")
    if ok is False:
        return tag("span", "FAIL", cls="verdict fail")
    return tag("span", NA, cls="verdict unknown")


def paragraph(text: object, cls: str = "") -> Html:
    return tag("p", text, cls=cls)


def note(text: object) -> Html:
    """A remark about the data itself (what is missing, what a chart stands in for)."""
    return paragraph(text, cls="note")


def bullets(items: Iterable[object]) -> Html:
    return tag("ul", *(tag("li", item) for item in items))


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Iterable[int] = ()
) -> Html:
    """A table; the columns listed in `numeric` are right-aligned."""
    right = set(numeric)

    def css(column: int) -> str:
        return "num" if column in right else ""

    head = tag("tr", *(tag("th", h, cls=css(i)) for i, h in enumerate(headers)))
    body = [tag("tr", *(tag("td", c, cls=css(i)) for i, c in enumerate(row))) for row in rows]
    return tag("table", tag("thead", head), tag("tbody", *body))


def figure(file_name: str, caption: object) -> Html:
    """An image beside the page, referenced by its bare file name so the folder can move."""
    return tag("figure", tag_void("img", src=file_name, alt=caption), tag("figcaption", caption))


def tag_void(name: str, /, **attrs: object) -> Html:
    """An element without content or end tag (`img`, `meta`)."""
    return Html(f"<{name}{_attributes(attrs)}>")


def _attributes(attrs: dict[str, object]) -> str:
    return "".join(
        f' {_ATTRIBUTE_NAMES.get(key, key.replace("_", "-"))}="{esc(value)}"'
        for key, value in attrs.items()
        if value not in ("", None)
    )


def section(title: object, *blocks: object, anchor: str = "", level: int = 2) -> Html:
    """A `<section>` that starts with its heading; `anchor` becomes its id (for links)."""
    return tag("section", tag(f"h{level}", title), *blocks, id=anchor)


def page(title: object, blocks: Iterable[object]) -> str:
    head = tag(
        "head",
        tag_void("meta", charset="utf-8"),
        tag_void("meta", http_equiv="Content-Security-Policy", content=CSP),
        tag_void("meta", name="viewport", content="width=device-width, initial-scale=1"),
        tag("title", title),
        tag("style", Html(CSS)),
    )
    body = tag("body", tag("h1", title), *blocks)
    return f"<!DOCTYPE html>\n{tag('html', head, body, lang='en')}\n"


def write_page(path: Path, title: object, blocks: Iterable[object]) -> Path:
    path.write_text(page(title, blocks), encoding="utf-8")
    return path
