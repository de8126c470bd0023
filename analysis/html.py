"""A self-contained HTML copy of a Markdown report: the figures are embedded (base64), so the one file
can be mailed or archived. The Markdown is rendered by markdown-it-py (CommonMark with GitHub tables);
raw HTML in a report is shown as text, not interpreted.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from markdown_it import MarkdownIt

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


def _data_uri(src: str, base: Path | None) -> str:
    """An image file as a data URI (the figure travels inside the HTML); ``src`` as it is when unreadable."""
    path = (base / src) if base is not None else Path(src)
    try:
        data = base64.b64encode(path.read_bytes()).decode()
    except OSError:
        return src
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{mime};base64,{data}"


def markdown_to_html(md: str, title: str = "Report", base: Path | None = None) -> str:
    """Convert a report's Markdown to one self-contained HTML page (images relative to ``base``)."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")

    def image(self, tokens, idx, options, env):
        tokens[idx].attrSet("src", _data_uri(tokens[idx].attrGet("src") or "", base))
        return self.image(tokens, idx, options, env)

    parser.add_render_rule("image", image)
    body = parser.render(md)
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
