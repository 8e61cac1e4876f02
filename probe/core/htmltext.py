"""HTML mail bodies to plain text, with the quoted original dropped on request.

A stdlib ``HTMLParser`` subclass: enough to read a yes or a no, robust to the tag soup mail
clients write (unclosed ``<p>``, ``<o:p>``, stray end tags), and linear in the input size.

What counts as the quoted original, by client:
- any ``<blockquote>`` (Gmail, Apple Mail ``type=cite``, Thunderbird, Yahoo, webmails);
- Gmail ``div.gmail_quote`` / ``gmail_quote_container`` / ``gmail_attr`` (attribution line);
- Thunderbird ``div.moz-cite-prefix`` (attribution) and ``moz-forward-container``;
- Yahoo ``yahoo_quoted``, ProtonMail ``protonmail_quote``, GMX/web.de ``div name=quote``;
- Outlook: ``#divRplyFwdMsg`` / ``OutlookMessageHeader`` / ``#appendonsend``, the
  ``border:none;border-top:solid`` "From:" block and Zimbra's ``hr#zwchr``: there the original is
  not inside the marker but after it, so everything from the marker to the end is dropped.
Signatures marked by the client (``gmail_signature``, ``moz-signature``) are dropped too.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML_CHARS = 300_000
_DATA_URI = re.compile(r"data:[^\"'\s>]{64,}")
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "center", "dd", "div", "dl", "dt",
    "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "ul",
})
_VOID_TAGS = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
})
_IMPLIED_END = frozenset({"p", "li", "td", "th", "tr", "option", "dt", "dd"})
_INVISIBLE_TAGS = frozenset({"head", "script", "style", "title", "template", "noscript", "xml", "svg"})

# Class or id fragments (lowercased) whose element holds the quoted original.
_QUOTE_MARKERS = (
    "gmail_quote", "gmail_attr", "moz-cite-prefix", "moz-forward-container", "yahoo_quoted",
    "protonmail_quote", "zmail_extra", "ms-outlook-mobile-reference-message", "x_gmail_quote",
    "quote_container",
)
_SIGNATURE_MARKERS = ("signature",)  # gmail_signature, moz-signature, ms-outlook-mobile-signature, #Signature
# Markers after which the rest of the document is the original (Outlook, Zimbra).
_TRUNCATE_MARKERS = (
    "divrplyfwdmsg", "outlookmessageheader", "appendonsend", "zwchr",
    "mail-editor-reference-message-container",
)
_QUOTE_RE = re.compile("|".join(map(re.escape, _QUOTE_MARKERS)))
_SIGNATURE_RE = re.compile("|".join(map(re.escape, _SIGNATURE_MARKERS)))
_TRUNCATE_RE = re.compile("|".join(map(re.escape, _TRUNCATE_MARKERS)))
_OUTLOOK_BORDER = re.compile(r"border:\s*none.*border-top:\s*solid", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_MANY_NEWLINES = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.chunks: list[str] = []
        self.removed: list[str] = []
        self.stack: list[str] = []
        # (tag, depth at which the skipped element was opened); text is skipped while non-empty
        self.skip: list[tuple[str, int]] = []
        self.truncated = False
        self.pre_depth = 0

    # --- helpers -------------------------------------------------------------------------
    def _skip_reason(self, tag: str, attrs: list[tuple[str, str | None]]) -> tuple[str, bool] | None:
        """(what was removed, truncate-the-rest) for an element that holds no new text."""
        if tag in _INVISIBLE_TAGS:
            return ("hidden", False)
        if not attrs:
            return ("quote", False) if self.drop_quotes and tag == "blockquote" else None
        values = {k: (v or "") for k, v in attrs}
        style = values.get("style", "")
        if style and "display:none" in style.replace(" ", "").lower():
            return ("hidden", False)
        marks = " ".join((values.get("class", ""), values.get("id", ""), values.get("name", ""))).lower()
        if _SIGNATURE_RE.search(marks):
            return ("signature", False)
        if not self.drop_quotes:
            return None
        if tag == "blockquote" and not marks.strip() and values.get("type", "").lower() != "cite" \
                and "border:none" in style.replace(" ", "").lower():
            return None  # Gmail's "indent" button: the writer's own text, shifted right
        if tag == "blockquote" or values.get("name", "").lower() == "quote" or _QUOTE_RE.search(marks):
            return ("quote", False)
        if _TRUNCATE_RE.search(marks) or (tag in ("div", "p") and style and _OUTLOOK_BORDER.search(style)):
            return ("outlook-header", True)
        return None

    def _newline(self) -> None:
        if self.chunks and not self.chunks[-1].endswith("\n"):
            self.chunks.append("\n")

    # --- HTMLParser callbacks ------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.truncated:
            return
        void = tag in _VOID_TAGS
        if not self.skip:
            reason = self._skip_reason(tag, attrs)
            if reason is not None:
                what, truncate = reason
                if what != "hidden":
                    self.removed.append(what)
                if truncate:
                    self.truncated = True
                    return
                if not void:
                    self.skip.append((tag, len(self.stack)))
                    self.stack.append(tag)
                return
        if void:
            if tag in ("br", "hr") and not self.skip:
                self.chunks.append("\n")
            return
        if tag in _IMPLIED_END and self.stack and self.stack[-1] == tag:
            self.stack.pop()  # <p>…<p>: the first one ends where the second starts
        self.stack.append(tag)
        if not self.skip:
            if tag in _BLOCK_TAGS:
                self._newline()
            if tag == "pre":
                self.pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            self.handle_starttag(tag, attrs)
        else:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.truncated or tag in _VOID_TAGS:
            return
        # Close up to the most recent matching open tag; ignore stray end tags.
        for i in range(len(self.stack) - 1, max(-1, len(self.stack) - 400), -1):
            if self.stack[i] == tag:
                break
        else:
            return
        del self.stack[i:]
        while self.skip and self.skip[-1][1] >= len(self.stack):
            self.skip.pop()
        if not self.skip:
            if tag == "pre" and self.pre_depth:
                self.pre_depth -= 1
            if tag in _BLOCK_TAGS:
                self._newline()

    def handle_data(self, data: str) -> None:
        if self.truncated or self.skip:
            return
        if not self.pre_depth:
            data = data.replace("\r", " ").replace("\n", " ")
        self.chunks.append(data)


def html_to_text_parts(html: str, *, drop_quotes: bool = True) -> tuple[str, tuple[str, ...]]:
    """The text of ``html`` and the names of what was dropped ("quote", "outlook-header", ...)."""
    # The stdlib parser costs ~10 µs a tag: inline images go first, then only the top is read
    # (the new text of a reply is at the top; what is cut is the quoted original).
    html = _DATA_URI.sub("data:", html[:MAX_HTML_CHARS * 20])[:MAX_HTML_CHARS]
    open_tag = html.rfind("<")
    if open_tag > html.rfind(">"):
        html = html[:open_tag]  # a tag cut in two would come out as text
    parser = _TextCollector(drop_quotes)
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # a hostile document keeps what was read so far
        pass
    text = "".join(parser.chunks)
    text = _ZERO_WIDTH.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
    return text, tuple(dict.fromkeys(parser.removed))


def html_to_text(html: str, *, drop_quotes: bool = True) -> str:
    """Readable text of an HTML body; with ``drop_quotes`` the quoted original is left out."""
    return html_to_text_parts(html, drop_quotes=drop_quotes)[0]
