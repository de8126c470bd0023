"""A self-contained HTML copy of a Markdown report: the figures are embedded (base64), so the one file
can be mailed or archived. Converts the Markdown subset the reports use (headings, paragraphs, nested
bullet lists, tables, images, code blocks, bold, italics, inline code, links); no extra dependency.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d2731;line-height:1.45}
h1{border-bottom:2px solid #1b4965;padding-bottom:.2em}h2{margin-top:1.8em;color:#1b4965}
table{border-collapse:collapse;margin:1em 0;font-size:.86em;display:block;overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef3f7}tr:nth-child(even) td{background:#fafbfc}
img{max-width:100%;height:auto;border:1px solid #eee}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}code{background:#f6f8fa;padding:0 .2em}
"""


def _inline(text: str, base: Path | None) -> str:
    out = html.escape(text, quote=False)

    def img(m):
        alt, src = m.group(1), m.group(2)
        return _img_tag(alt, src, base)

    out = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", img, out)
    out = re.sub(r"(?<!!)\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", out)
    out = re.sub(r"(?<![\w])_([^_\s][^_]*)_(?![\w])", r"<em>\1</em>", out)
    return out


def _img_tag(alt: str, src: str, base: Path | None) -> str:
    path = (base / src) if base is not None else Path(src)
    try:
        data = base64.b64encode(path.read_bytes()).decode()
        mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
        src = f"data:{mime};base64,{data}"
    except OSError:
        pass
    return f'<img alt="{html.escape(alt)}" src="{src}">'


def _table(lines: list[str], base: Path | None) -> str:
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    head, body = rows[0], [r for r in rows[2:]]
    out = ["<table><thead><tr>" + "".join(f"<th>{_inline(c, base)}</th>" for c in head) + "</tr></thead><tbody>"]
    for r in body:
        out.append("<tr>" + "".join(f"<td>{_inline(c, base)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _list(lines: list[str], base: Path | None) -> str:
    out, stack = [], []
    for ln in lines:
        indent = len(ln) - len(ln.lstrip(" "))
        level = indent // 2
        text = ln.strip()[2:]
        while len(stack) < level + 1:
            out.append("<ul>")
            stack.append(level)
        while len(stack) > level + 1:
            out.append("</ul>")
            stack.pop()
        out.append(f"<li>{_inline(text, base)}</li>")
    out += ["</ul>"] * len(stack)
    return "\n".join(out)


def markdown_to_html(md: str, title: str = "Report", base: Path | None = None) -> str:
    """Convert a report's Markdown to one self-contained HTML page (images relative to ``base``)."""
    lines = md.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if not s:
            i += 1
        elif s.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append("<pre><code>" + html.escape("\n".join(lines[i + 1:j])) + "</code></pre>")
            i = j + 1
        elif m := re.match(r"^(#{1,6})\s+(.*)$", s):
            n = len(m.group(1))
            out.append(f"<h{n}>{_inline(m.group(2), base)}</h{n}>")
            i += 1
        elif s.startswith("|"):
            j = i
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            out.append(_table(lines[i:j], base))
            i = j
        elif re.match(r"^\s*[-*] ", ln):
            j = i
            while j < len(lines) and re.match(r"^\s*[-*] ", lines[j]):
                j += 1
            out.append(_list(lines[i:j], base))
            i = j
        else:
            j = i
            para = []
            while j < len(lines) and lines[j].strip() and not re.match(r"^(#|\||```|\s*[-*] )", lines[j].strip()):
                para.append(lines[j].strip())
                j += 1
            out.append(f"<p>{_inline(' '.join(para), base)}</p>")
            i = j
    body = "\n".join(out)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def write_html_report(md_path: Path, html_path: Path | None = None, title: str | None = None) -> Path:
    """Write ``report.html`` beside ``report.md`` with its figures embedded."""
    from .io import write_text

    md_path = Path(md_path)
    md = md_path.read_text(encoding="utf-8")
    if title is None:
        first = next((ln for ln in md.splitlines() if ln.startswith("# ")), "# Report")
        title = first[2:].strip()
    html_path = Path(html_path) if html_path else md_path.with_suffix(".html")
    return write_text(html_path, markdown_to_html(md, title, md_path.parent))
