"""Corpus reader: documents, their articles and sentences, with offsets into the text as read.

A newspaper page holds several articles: a headline block (headline, kicker, subtitle), a byline
(通讯员 X, 本报(通讯员 X)), body paragraphs, and photo captions that end in a credit (X 摄).
Page lines often break inside a sentence, even inside a name (红心物\\n\\n业); `NerView` joins those
breaks for the NER and maps every offset back into the original text.
"""

from __future__ import annotations

import codecs
import os
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from kg.errors import InputError

# A paragraph of these lengths or longer that ends without terminal punctuation was cut by the page.
_PAGE_LINE_MIN = 26
_TERMINAL = set("。！？!?；;：:…”’」』)）》")
_CREDIT = re.compile(r"(?:(?:本报|全媒体|特约)*(?:通讯员|记者|摄影|见习记者)[ \u3000]*)?[^\s。,，]{1,12}(?:[ \u3000]+[^\s。,，]{1,6})*[ \u3000]*摄$")
_BYLINE = re.compile(r"^(?:本报|全媒体|特约|见习|实习|首席)*(?:记者|通讯员)[ \u3000]*[\u4e00-\u9fff·]{2,4}(?:[ \u3000、]+(?:(?:本报|全媒体)?(?:记者|通讯员)[ \u3000]*)?[\u4e00-\u9fff·]{2,4})*$")
_DATELINE = re.compile(r"^本报讯?[(（]|^本报讯")
_DATELINE_ONLY = re.compile(r"^本报讯?[(（][^()（）\n]{2,40}[)）]$")
_TRAILING_CREDIT = re.compile(r"(?:本报|全媒体)*(?:通讯员|记者)[ \u3000]*[\u4e00-\u9fff·]{2,4}(?:[ \u3000]+[\u4e00-\u9fff·]{2,4})*[ \u3000]*摄$")
_SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」』]?|(?:\r?\n){2,}")


@dataclass(frozen=True, slots=True)
class Article:
    """One article of a page: character ranges into the document text."""

    index: int
    start: int
    end: int
    headline: tuple[int, int] | None  # the headline block (headline, kicker, subtitle lines)
    byline: tuple[int, int] | None  # a byline or credit line, when the article has one

    def title(self, text: str) -> str:
        """The headline as one line, or the first words of the body for a caption."""
        if self.headline:
            lines = text[self.headline[0] : self.headline[1]].replace("\r\n", "\n").split("\n")
            return " ".join(line for line in lines if line)
        first = text[self.start : self.end].strip().replace("\r\n", "\n").split("\n")[0]
        return first[:30] + ("…" if len(first) > 30 else "")


@dataclass(slots=True)
class Document:
    """A file as read: its decoded text, how it was decoded, and its articles."""

    doc_id: str
    path: Path
    text: str
    encoding: str
    articles: list[Article] = field(default_factory=list)

    def article_at(self, offset: int) -> Article:
        """The article holding a character offset (the last one for offsets past the end)."""
        for article in self.articles:
            if offset < article.end:
                return article
        return self.articles[-1]


@cache
def _t2s_table() -> dict[int, str]:
    """Traditional → Simplified, character for character (OpenCC's table), so offsets hold."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        trad, _, simp = line.partition("\t")
        first = simp.split(" ")[0] if simp else ""
        if len(trad) == 1 and len(first) == 1 and trad != first:
            table[ord(trad)] = first
    return table


def to_simplified(text: str) -> str:
    """The text with Traditional characters mapped to Simplified ones; the length never changes.

    >>> to_simplified("鐵西區東煤社區")
    '铁西区东煤社区'
    """
    return text.translate(_t2s_table())


class NerView:
    """The text the NER reads: mid-sentence line breaks removed, Traditional characters read as
    Simplified (one for one), offsets kept.

    >>> v = NerView("铁东区按照常态长效的要求,打造红心物\\n\\n业示范小区。\\n\\n新段落")
    >>> v.text
    '铁东区按照常态长效的要求,打造红心物业示范小区。\\n\\n新段落'
    >>> v.span(15, 19)
    (15, 21)
    """

    __slots__ = ("text", "_view_starts", "_shifts")

    def __init__(self, original: str) -> None:
        pieces: list[str] = []
        self._view_starts: list[int] = [0]
        self._shifts: list[int] = [0]
        pos = 0
        removed = 0
        for brk in _inner_breaks(original):
            pieces.append(original[pos : brk[0]])
            removed += brk[1] - brk[0]
            pos = brk[1]
            self._view_starts.append(brk[0] - (removed - (brk[1] - brk[0])))
            self._shifts.append(removed)
        pieces.append(original[pos:])
        self.text = to_simplified("".join(pieces))

    def offset(self, view_offset: int) -> int:
        """The original offset of a character of the view."""
        return view_offset + self._shifts[bisect_right(self._view_starts, view_offset) - 1]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original range of a view range; a break inside it stays inside it."""
        return self.offset(start), self.offset(end - 1) + 1


def _inner_breaks(text: str) -> Iterator[tuple[int, int]]:
    """Ranges of line breaks that cut a sentence: a long line that ends without punctuation."""
    for match in re.finditer(r"[ \t\u3000]*\r?\n(?:[ \t\u3000]*\r?\n)*", text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        line = text[line_start : match.start()].strip()
        following = text[match.end() : match.end() + 1]
        if not line or not following or following.isspace():
            continue
        if line[-1] in _TERMINAL or _is_credit(line) or _BYLINE.match(line):
            continue
        if len(line) >= _PAGE_LINE_MIN or (len(line) >= 12 and re.search(r"[,，、。]", line)):
            yield match.start(), match.end()


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence ranges of a text, as NER view ranges mapped back into the original."""
    view = NerView(text)
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(view.text):
        end = match.end() if match.group()[0] not in "\r\n" else match.start()
        if end > start and view.text[start:end].strip():
            spans.append(_strip(view.text, start, end))
        start = match.end()
    if view.text[start:].strip():
        spans.append(_strip(view.text, start, len(view.text)))
    return [view.span(s, e) for s, e in spans]


def ner_pieces(text: str, limit: int) -> list[tuple[int, int]]:
    """Ranges of at most `limit` characters that cover a text, cut after a sentence end where one
    is near (else after a line break, else anywhere), so that a long file reaches the NER in pieces.

    >>> ner_pieces("甲乙。丙丁。戊", 3)
    [(0, 3), (3, 6), (6, 7)]
    """
    out: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > limit:
        window = text[start + limit // 2 : start + limit]
        cut = max(window.rfind(ch) for ch in "。！？!?")
        if cut < 0:
            cut = window.rfind("\n")
        end = start + limit // 2 + cut + 1 if cut >= 0 else start + limit
        out.append((start, end))
        start = end
    out.append((start, len(text)))
    return out


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraphs(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, end, line breaks before) of each non-empty line."""
    prev_end = 0
    for match in re.finditer(r"[^\r\n]*\S[^\r\n]*", text):
        s, e = _strip(text, match.start(), match.end())
        yield s, e, text.count("\n", prev_end, s)
        prev_end = e


def _is_credit(line: str) -> bool:
    """A photo credit (… 摄). The pattern backtracks along a whole paragraph before it fails; the
    end of the line, where its `摄$` must match, decides most lines at once."""
    return line.endswith(("摄", "摄\n")) and _CREDIT.search(line) is not None


def _kind(line: str) -> str:
    if len(line) <= 40 and _is_credit(line):
        return "credit"
    if _BYLINE.match(line) or _DATELINE_ONLY.match(line):
        return "byline"
    if len(line) <= 40 and line[-1] not in "。！？!?；;：:…" and not re.search(r"[。；;]", line):
        return "heading"
    return "body"


def split_articles(text: str) -> list[Article]:
    """Split a page into articles by its headline blocks, bylines, datelines and photo credits."""
    paras = [(s, e, blank, _kind(text[s:e])) for s, e, blank in _paragraphs(text)]
    if not paras:
        return [Article(0, 0, len(text), None, None)]
    starts: list[int] = [0]
    for i, (s, _, blank, kind) in enumerate(paras):
        if i == 0:
            continue
        prev_kind = paras[i - 1][3]
        next_kind = paras[i + 1][3] if i + 1 < len(paras) else ""
        next_text = text[paras[i + 1][0] : paras[i + 1][1]] if i + 1 < len(paras) else ""
        opens_block = kind == "heading" and prev_kind in ("body", "credit") and (
            next_kind in ("heading", "byline") or _DATELINE.match(next_text)
        )
        after_credit = prev_kind == "credit" and kind != "credit"
        wide_gap = blank >= 4 and prev_kind in ("body", "credit") and kind in ("body", "heading")
        dateline = kind == "body" and _DATELINE.match(text[s:]) and prev_kind in ("body", "credit")
        # a photo caption at the end of an article that has its own byline: body + credit line
        own = paras[starts[-1] : i]
        caption = (
            kind == "body"
            and next_kind == "credit"
            and prev_kind == "body"
            and any(k == "byline" or (k == "body" and _DATELINE.match(text[ps:])) for ps, _, _, k in own)
        )
        if opens_block or after_credit or wide_gap or dateline or caption:
            starts.append(i)
    articles: list[Article] = []
    for n, first in enumerate(starts):
        last = (starts[n + 1] if n + 1 < len(starts) else len(paras)) - 1
        block = paras[first : last + 1]
        start = 0 if n == 0 else block[0][0]
        end = len(text) if n + 1 == len(starts) else paras[starts[n + 1]][0]
        heads = []
        for s, e, _, kind in block:
            if kind != "heading":
                break
            heads.append((s, e))
        headline = (heads[0][0], heads[-1][1]) if heads and len(heads) < len(block) else None
        byline = next(((s, e) for s, e, _, kind in block if kind == "byline"), None)
        body = [(s, e) for s, e, _, kind in block if kind == "body"]
        if byline is None and body and _DATELINE.match(text[body[0][0] :]):
            close = re.search(r"[)）]", text[body[0][0] : body[0][0] + 40])
            byline = (body[0][0], body[0][0] + close.end()) if close else None
        if byline is None:
            byline = next(((s, e) for s, e, _, kind in block if kind == "credit"), None)
        if byline is None and block[-1][3] == "body":
            credit = _TRAILING_CREDIT.search(text, block[-1][0], block[-1][1])
            byline = credit.span() if credit else None
        articles.append(Article(n, start, end, headline, byline))
    return articles


def decode(raw: bytes, path: Path) -> tuple[str, str]:
    """Decode a file's bytes: UTF-8 (with or without BOM), UTF-16 (with or without BOM) or GB18030.

    Without a BOM, the candidate whose text looks most like Chinese prose wins. Raises InputError
    for binary data and for bytes that decode in none of them.
    """
    if raw.startswith(codecs.BOM_UTF8):
        order = ["utf-8-sig"]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        order = ["utf-16"]
    else:
        order = ["utf-8", "utf-16-le", "utf-16-be", "gb18030"]
    best: tuple[float, str, str] | None = None
    for encoding in order:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _plausibility(text)
        # UTF-16 text without a BOM is mostly valid UTF-8 too, full of NULs: keep looking then
        if encoding in ("utf-8", "utf-8-sig", "utf-16") and score >= 0.5 and "\x00" not in text[:4096]:
            best = (score, encoding, text)
            break
        if best is None or score > best[0]:
            best = (score, encoding, text)
    if best is None or best[0] < 0.5:
        if b"\x00" in raw[:65536] or (best is not None and _looks_binary(best[2])):
            raise InputError(f"{path}: looks like a binary file, not text; skipped.")
        raise InputError(f"{path}: decodes as none of UTF-8, UTF-16 or GB18030; re-save it as UTF-8.")
    if _looks_binary(best[2]):
        raise InputError(f"{path}: looks like a binary file, not text; skipped.")
    return best[2], best[1]


def _plausibility(text: str) -> float:
    """Share of characters that ordinary text is made of: ASCII, punctuation, common hanzi.

    A common hanzi is one of GB2312's first level (the 3,755 most used characters), so a wrong
    decoding, which yields rare characters, scores low.
    """
    sample = text[:4096]
    if not sample:
        return 1.0
    # added in the order of the text, as the scores of two decodings are compared to the last bit
    return sum(map(_char_plausibility, sample)) / len(sample)


@cache
def _char_plausibility(ch: str) -> float:
    """How ordinary one character is, for _plausibility: 1, 0.5, 0.3 or 0."""
    if ch.isascii():
        return ch.isprintable() or ch in "\r\n\t"
    if "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef" or ch in "“”‘’…—·":
        return 1
    if "\u4e00" <= ch <= "\u9fff":
        try:
            return 0xB0 <= ch.encode("gb2312")[0] <= 0xD7
        except UnicodeEncodeError:
            return 0.3  # a Traditional or rare character: possible, not typical
    if ch.isprintable() and ch != "\ufffd":
        return 0.5
    return 0


# Unicode's control characters (category Cc, fixed by its stability policy: C0, DEL and C1) but
# \t \n \v \f \r; found by one regex, not a category look-up per character (half of reading a file)
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    if "\x00" in sample:
        return True
    controls = len(_CONTROLS.findall(sample))
    return controls > max(8, len(sample) // 50)


def read_document(path: Path) -> Document:
    """Read one file once; the text is kept exactly as decoded, CRLF included."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror}).") from err
    text, encoding = decode(raw, path)
    if not text.strip():
        # nothing to read: an article of no characters would break the graph's own shapes
        raise InputError(f"{path}: is empty (no text); skipped.")
    return Document(path.stem, path, text, encoding, split_articles(text))


def list_inputs(directory: Path, pattern: str = "*.txt") -> list[Path]:
    """The input files of a folder, sorted by name so that every run sees them in one order."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a folder; give the folder that holds the .txt files.")
    return sorted(p for p in directory.rglob(pattern) if p.is_file())


def shown(path: Path) -> str:
    """A path as a message shows it: bytes of its name that are not UTF-8 as backslash escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def misnamed(path: Path, root: Path) -> str | None:
    """Why a file under `root` cannot be a document by its name, None when it can: a document's id
    and IRIs are made of its name, which must be text (UTF-8) to go into them and the outputs."""
    try:
        str(path.relative_to(root)).encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not UTF-8 text (a document's id and IRIs are made of it); rename the file"
    return None


# RFC 3987: the characters an IRI path segment may hold as they are (ASCII unreserved, sub-delims,
# ':', '@', and the non-ASCII "ucschar" ranges); everything else is percent-encoded.
_IRI_ASCII = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@")
_UCSCHAR = ((0xA0, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFEF), *((p << 16, (p << 16) + 0xFFFD) for p in range(1, 15)))


# an ID of these characters only goes into an IRI as it is (most do)
_IRI_SAFE = re.compile("[" + re.escape("".join(sorted(_IRI_ASCII))) + "/" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _UCSCHAR) + "]*")


def iri_path(doc_id: str) -> str:
    """A document ID as it goes into an IRI: characters an IRI cannot hold percent-encoded, '/' kept.

    File names may hold spaces, '#', '%' or '<'; the encoding is one-to-one, so two IDs never meet.

    >>> iri_path("铁西区 50%#1")
    '铁西区%2050%25%231'
    """
    return doc_id if _IRI_SAFE.fullmatch(doc_id) else _encoded(doc_id)


# called for every IRI of a document's mentions, sentences and articles, a document after another:
# the last few suffice (unbounded, it kept every document's in a build's process, 75 bytes a page)
@lru_cache(maxsize=256)
def _encoded(doc_id: str) -> str:
    out = []
    for ch in doc_id:
        o = ord(ch)
        if ch in _IRI_ASCII or ch == "/" or any(lo <= o <= hi for lo, hi in _UCSCHAR):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def doc_ids(paths: Iterable[Path], root: Path) -> dict[Path, str]:
    """A unique document ID per file: its stem, or its relative path where stems repeat."""
    paths = list(paths)
    stems: dict[str, int] = {}
    for p in paths:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    out = {}
    for p in paths:
        if stems[p.stem] == 1:
            out[p] = p.stem
        else:
            out[p] = str(p.relative_to(root).with_suffix("")).replace("\\", "/")
    return out
