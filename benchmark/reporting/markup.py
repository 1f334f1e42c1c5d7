"""A tiny document model (sections of paragraphs, lists, tables, images) rendered to Markdown and HTML.

One model feeds both outputs so report.md and report.html always say the same thing. The HTML is
self-contained: images (PNG figures, GIF animations) are inlined as base64 data URIs and the style sheet is embedded.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # already formatted for display; the index is not shown
    caption: str = ""


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str


Block = Paragraph | Bullets | Table | Image


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0 1.2em; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: 0.3em; }
"""


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown table (no extra dependency); the index is dropped."""
    if frame.empty:
        return "_(none)_"
    header = "| " + " | ".join(_md_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def to_markdown(title: str, sections: list[Section], base: Path) -> str:
    """The document as Markdown; image links are relative to `base` (the report's folder)."""
    lines = [f"# {title}", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            match block:
                case Paragraph(text):
                    lines += [text, ""]
                case Bullets(items):
                    lines += [*(f"- {item}" for item in items), ""]
                case Table(frame, caption):
                    lines += ([f"*{caption}*", ""] if caption else []) + [markdown_table(frame), ""]
                case Image(path, alt):
                    lines += [f"![{alt}]({path.relative_to(base).as_posix()})", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Escape text and honour `code`, **bold** and [text](link) spans, the only inline markup the report uses."""
    parts = html.escape(text).split("`")
    joined = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    joined = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', joined)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", joined)


def to_html(title: str, sections: list[Section]) -> str:
    """The document as one self-contained HTML page (images embedded as base64 PNG data URIs)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        out.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            match block:
                case Paragraph(text):
                    out.append(f"<p>{_inline(text)}</p>")
                case Bullets(items):
                    out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
                case Table(frame, caption):
                    if frame.empty:
                        out.append("<p><em>(none)</em></p>")
                        continue
                    table = frame.to_html(index=False, escape=True, border=0, na_rep="")
                    if caption:
                        table = table.replace(">", f"><caption>{html.escape(caption)}</caption>", 1)
                    out.append(table)
                case Image(path, alt):
                    data = base64.b64encode(path.read_bytes()).decode("ascii")
                    mime = "image/gif" if path.suffix.lower() == ".gif" else "image/png"
                    out.append(f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{data}">')
    out.append("</body></html>")
    return "\n".join(out)
