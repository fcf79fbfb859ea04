"""Rules that propose mentions from the grammar of Chinese names (suffixes, heads, cues, quotes).

The rules over-generate on purpose: an organisation head proposes every plausible left boundary,
a place suffix every name length. The classifier (kg.ner.classifier) scores the candidates and the
resolver keeps the best non-overlapping ones. Every word list comes from `lexicon.toml`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kg.ner.candidates import Candidate
from kg.ner.gazetteer import Gazetteer
from kg.ner.lexicon import word_reach

LABELS = ("PERSON", "ORG", "PLACE", "PROGRAMME", "POLICY")
PUNCT = set("，,。.！!？?；;：:、（）()《》〈〉“”‘’\"'「」『』【】[]—-…·/ \u3000\t\r\n")
SENTENCE_END = set("。！？!?；;\n")


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or ch == "〇"


_CJK = re.compile("[\u4e00-\u9fff〇]*")  # a run of characters that is_cjk accepts


def _normal(name: str) -> str:
    """A name without its spaces and separators, for matching a headline to a quote."""
    return "".join(ch for ch in name if ch not in " \u3000,，、·")


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


class Rules:
    """Candidate generators, one per rule family, built from the lexicon, surnames and the gazetteer."""

    def __init__(
        self,
        lexicon: dict,
        surnames: Iterable[str],
        words: dict[str, str],
        idioms: Iterable[str] = (),
        reach: tuple[dict[str, int], dict[str, int]] | None = None,
    ) -> None:
        """`reach`: `word_reach(words)` made already (kg.ner.lexicon keeps jieba's on disk)."""
        self.lex = lexicon
        self.words = words
        self.word_reach = reach if reach is not None else word_reach(words)
        self.idioms = frozenset(idioms)
        names = set(surnames)
        self.surnames1 = {s for s in names if len(s) == 1}
        self.surnames2 = {s for s in names if len(s) == 2}
        place, org, person, prog, policy = (lexicon[k] for k in ("place", "org", "person", "programme", "policy"))
        self.admin_suffixes = list(place["admin_suffixes"])
        self.site_suffixes = list(place["site_suffixes"])
        self.place_generic = set(place["generic"])
        self.min_name, self.max_name = int(place["min_name"]), int(place["max_name"])
        self.level_chars = set(place["level_chars"])
        self.place_re = re.compile(_alternation(self.admin_suffixes + self.site_suffixes))
        self.org_heads = set(org["heads"])
        self.org_short = set(org["short_heads"])
        self.definite_alone = set(org.get("definite_alone", ()))
        self.t_org_openers = tuple(org.get("openers", ()))
        self.role_after = set(org["role_after"])
        self.org_generic = set(org["generic"])
        self.org_max = int(org["max_len"])
        self.national = list(org["national"])
        self.org_re = re.compile(_alternation(self.org_heads))
        self.not_heads = sorted(set(org.get("not_heads", ())), key=len, reverse=True)
        self.predicates = set(lexicon.get("grammar", {}).get("predicate_words", ()))
        self._pred_prefix = {w for w in self.predicates if len(w) >= 2}
        self._pred_firsts = frozenset(w[0] for w in self.predicates if w)
        self.name_openers = set(lexicon.get("grammar", {}).get("name_openers", ()))
        # tuples for str.startswith / str.endswith, which test many words at C speed
        self.t_org_heads2 = tuple(sorted(h for h in self.org_heads if len(h) >= 2))
        self.t_not_heads = tuple(self.not_heads)
        self.t_predicates = tuple(sorted(self.predicates))

        self.national_re = re.compile(_alternation(self.national)) if self.national else None
        self.role_cues = set(person["role_cues"])
        self.person_after = set(person["after"])
        self.kin = set(person["kin"])
        self.role_re = re.compile(_alternation(self.role_cues))
        # conjunctions: they part two names (气象局|和|县委) but join the words of one (文化和旅游厅)
        self.coordinators = {"和", "与", "及", "或", "并", "同", "跟", "以及"}
        self.t_name_ends = tuple(
            sorted(self.org_heads | set(org["national"]) | set(self.admin_suffixes) | set(self.site_suffixes) | self.role_cues)
        )
        cues = _alternation(person["byline_cues"])
        self.byline_re = re.compile(rf"(?:本报|全媒体|特约|见习|实习|首席)*(?:{cues})[ \u3000]*")
        self.cue_strip = re.compile(rf"^(?:本报|全媒体|特约|见习|实习|首席)*(?:{cues})")
        self.credit = person["credit_mark"]
        self.prog_heads = list(prog["heads"])
        self.prog_after = list(prog["after_quote"])
        self.prog_not_after = list(prog["not_after_quote"])
        self.prog_before = list(prog.get("before_quote", ()))
        self.prog_not_before = list(prog.get("not_before_quote", ()))
        self.t_prog_after = tuple(self.prog_after)
        self.t_prog_not_after = tuple(self.prog_not_after)
        self.t_prog_before = tuple(self.prog_before)
        self.t_prog_not_before = tuple(self.prog_not_before)
        self.t_prog_heads = tuple(self.prog_heads)
        self.role_endings = set(prog["role_endings"])
        # last characters shared by all items of a list of roles or spots, not of names (楼栋长、单元长)
        self.list_endings = self.role_endings | set("内外上下里中前后间边")
        self.numerals = set(prog["numerals"])
        self.prog_unquoted_re = re.compile(_alternation(prog["unquoted_heads"]))
        self.policy_heads = list(policy["heads"])
        self.policy_openings = list(policy["openings"])
        self.t_policy_heads = tuple(self.policy_heads)
        self.t_policy_openings = tuple(self.policy_openings)
        self.t_person_after = tuple(self.person_after)
        self.quote_re = re.compile(r"“([^“”\n]{1,60}?)”|“([^“”\n]*“[^“”\n]{1,8}”[^“”\n]*)”")
        self.book_re = re.compile(r"《([^《》\n]{1,120})》")
        self.inner_quote_re = re.compile(r"[\u4e00-\u9fff]{1,3}“[^“”\n]{1,3}”[\u4e00-\u9fff]{1,4}")

    # ------------------------------------------------------------------ helpers
    def is_surname_start(self, s: str) -> bool:
        return bool(s) and (s[:2] in self.surnames2 or s[0] in self.surnames1)

    def is_common_word(self, s: str) -> bool:
        """A dictionary word that is not a person's name (干部, 通过, 家庭)."""
        tag = self.words.get(s)
        return tag is not None and not tag.startswith("nr")

    def name_can_end(self, text: str, e: int) -> bool:
        """A person's name can end at e: punctuation or the end follows, or a word that follows
        names (说, 表示, 同志) or opens a predicate (在, 带领, 深入)."""
        if e >= len(text) or not is_cjk(text[e]):
            return True
        return text.startswith(self.t_person_after, e) or text.startswith(self.t_predicates, e)

    def longest_word(self, text: str, i: int, longest: int = 6) -> str:
        """The longest dictionary word starting at i (at least the character itself)."""
        reach = self.word_reach[0].get(text[i : i + 2], 0)
        for n in range(min(longest, reach, len(text) - i), 1, -1):
            if text[i : i + n] in self.words:
                return text[i : i + n]
        return text[i : i + 1]

    def word_ending_at(self, text: str, j: int, longest: int = 4) -> str:
        """The longest dictionary word ending at j (exclusive), or the character before j."""
        reach = self.word_reach[1].get(text[j - 2 : j], 0) if j >= 2 else 0
        for n in range(min(longest, reach, j), 1, -1):
            if text[j - n : j] in self.words:
                return text[j - n : j]
        return text[j - 1 : j] if j > 0 else ""

    def split_names(self, token: str) -> list[tuple[int, int]]:
        """Split names written together (荆瀛王斌) into (offset, length) pairs, by the surname list."""
        n = len(token)
        if n <= 3 or (n == 4 and token[:2] in self.surnames2):
            return [(0, n)]
        best: list[tuple[int, int]] | None = None
        for first in (3, 2):
            rest = token[first:]
            if len(rest) >= 2 and self.is_surname_start(rest):
                tail = self.split_names(rest)
                if all(self.is_surname_start(rest[o:]) for o, _ in tail):
                    best = [(0, first)] + [(o + first, ln) for o, ln in tail]
                    if first == 2 and n == 5:
                        continue  # a 2+3 split of five characters is weaker than 3+2; keep looking
                    break
        return best or [(0, n)]

    def predicate_spans(self, text: str, words: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Dictionary words (as segmented) that open a predicate: 开展, 切实, 在, 和 … A merged word
        that starts with one (积极推进) counts; a one-character one only when it stands alone."""
        out = []
        pre = self._pred_prefix
        firsts = self._pred_firsts
        for ws, we in words:
            if text[ws] not in firsts:  # most words: neither a predicate nor one that starts with one
                continue
            w = text[ws:we]
            if w in self.predicates or (len(w) > 2 and (w[:2] in pre or w[:3] in pre)):
                if w in self.name_openers and self.org_re.match(text, we):
                    continue
                head = self.org_re.match(w)
                if head is not None and head.end() == len(w):
                    continue  # 联合会, 组织部: a head, not a verb
                if w in self.coordinators and not text.endswith(self.t_name_ends, 0, ws):
                    continue  # 文化和旅游厅: 和 joins two words of one name unless a name or a role ends before it
                out.append((ws, we))
        return out

    def _head_in_common_word(self, text: str, a: int, b: int) -> bool:
        """The head text[a:b] ends a common word that is no organisation (格局, 网站, 会议室)."""
        if not text.endswith(self.t_not_heads, 0, b):
            return False
        for w in self.not_heads:
            n = len(w)
            if n > b - a and b - n >= 0 and text[b - n : b] == w:
                return True
        return False

    # ------------------------------------------------------------------ families
    def all(self, text: str, gaz: Gazetteer, jieba_starts: set[int]) -> list[Candidate]:
        out: list[Candidate] = []
        out += self.gazetteer(text, gaz)
        places = self.places(text, jieba_starts)
        out += places
        place_starts = {c.start for c in out if c.label == "PLACE"}
        place_ends = {c.end for c in out if c.label == "PLACE"}
        out += self.orgs(text, jieba_starts | place_starts, place_ends)
        out += self.persons(text)
        out += self.quotes(text)
        out += self.policies(text)
        out += self.unquoted_programmes(text, jieba_starts | place_starts)
        return out

    def gazetteer(self, text: str, gaz: Gazetteer) -> list[Candidate]:
        return [
            Candidate(s, e, label, "gazetteer", iri, {"level": level})
            for s, e, label, iri, level in gaz.matches(text)
        ]

    def places(self, text: str, starts: set[int], stops: set[int] | None = None) -> list[Candidate]:
        """Places: a division or site suffix and every name length before it (`stops`: offsets where
        a predicate word starts, which a name does not cross)."""
        stops = stops or set()
        out = []
        sites = set(self.site_suffixes)
        matches = list(self.place_re.finditer(text))
        # a name may also begin right after a division suffix: 营城子镇|东尖山村
        starts = starts | {m.end() for m in matches}
        for m in matches:
            a, b = m.span()
            suffix = m.group()
            if b < len(text) and is_cjk(text[b]):
                word = self.longest_word(text, a)
                if len(word) > len(suffix) and word not in self.place_generic and len(self.longest_word(text, b)) < 2:
                    continue  # 区域, 市场, 村民 …: the suffix starts a longer word (not 民主村|村委会)
            for k in range(self.min_name, self.max_name + 1):
                s = a - k
                if s < 0:
                    break
                name = text[s:a]
                if _CJK.fullmatch(name) is None or "的" in name:
                    break
                if s in stops or (k == self.min_name and any(i in stops for i in range(s + 1, a))):
                    break
                if s not in starts:
                    continue  # a name does not begin inside a word (来|到铁西区, 组|织英雄社区)
                if text[s:b] in self.place_generic:
                    continue
                out.append(Candidate(s, b, "PLACE", "place", info={"suffix": suffix, "site": suffix in sites}))
        return out

    def orgs(
        self,
        text: str,
        starts: set[int],
        place_ends: set[int],
        word_at: dict[int, tuple[int, int]] | None = None,
        stops: set[int] | None = None,
    ) -> list[Candidate]:
        """Organisations: a head noun, and every plausible left boundary before it.

        `word_at` maps a character offset to the dictionary word that covers it; a head that is the
        tail of a verb or adverb (举办, 一办) or of a common word (格局, 网站) is not a head. The left
        boundary does not cross a predicate word (`stops`: 梨树县|组建专题小组, 气象局|和|县委)."""
        stops = stops or set()
        out = []
        noun_tags = ("n", "nt", "ns", "nz", "nr", "j", "l", "vn", "nrt", "x")
        for m in self.org_re.finditer(text):
            a, b = m.span()
            head = m.group()
            if word_at is not None:
                w = word_at.get(b - 1)
                if w is not None and w[0] < a and w[1] == b and self.words.get(text[w[0] : w[1]], "x") not in noun_tags:
                    continue
            word = self.longest_word(text, a)
            if len(word) > len(head) and word not in self.org_heads and not any(
                word == head + r for r in self.role_after
            ):
                continue  # 部署, 局面, 所有, 中心工作: the head starts a longer word
            if self._head_in_common_word(text, a, b):
                continue
            info = {"head": head}
            # a head alone can be a definite short form (政协, 妇联) when it has two characters
            if len(head) >= 2 and head not in ("委员会", "部门"):
                out.append(Candidate(a, b, "ORG", "org", info={**info, "alone": True}))
            lo = max(0, b - self.org_max)
            for s in range(a - 1, lo - 1, -1):
                ch = text[s]
                if not (is_cjk(ch) or ch.isdigit() or ch in "()（）") or ch == "的" or s in stops:
                    break
                if s not in starts and text[s] not in self.level_chars:
                    continue
                if text[s:b] in self.org_generic:
                    continue
                out.append(Candidate(s, b, "ORG", "org", info=info))
        if self.national_re is not None:
            for m in self.national_re.finditer(text):
                out.append(Candidate(m.start(), m.end(), "ORG", "org", info={"head": m.group(), "national": True}))
        return out

    def persons(self, text: str) -> list[Candidate]:
        out: list[Candidate] = []
        # bylines and credits: names after a cue, up to the end of the bracket or line
        for m in self.byline_re.finditer(text):
            pos = m.end()
            stop = pos
            while stop < len(text) and text[stop] not in "()（）\n。,，;；:：":
                stop += 1
            out += self._names_in(text, pos, stop, "person:byline")
        # credits without a cue: "X Y 摄" closing a line
        for m in re.finditer(rf"[ \u3000]*{re.escape(self.credit)}[ \u3000]*(?=\n|$)", text):
            line_start = max(text.rfind("\n", 0, m.start()) + 1, max(text.rfind(ch, 0, m.start()) for ch in "。！？") + 1)
            seg = text[line_start : m.start()]
            if 2 <= len(seg.strip()) <= 24:
                out += self._names_in(text, line_start, m.start(), "person:credit")
        # role cues: 书记王某某, 村民李某; the name is no common word and ends where a name can end
        for m in self.role_re.finditer(text):
            a = m.end()
            for n in (2, 3):
                name = text[a : a + n]
                if len(name) == n and all(is_cjk(c) for c in name) and self.is_surname_start(name):
                    if name[1:] in self.kin or name[1:3] in self.kin:
                        continue
                    if self.is_common_word(name) or not self.name_can_end(text, a + n):
                        continue
                    if n == 3 and self.is_common_word(name[:2]) and self.is_common_word(self.longest_word(text, a + 2)):
                        continue  # 福祉|落到, 后备|人才: two words, not a name
                    if n == 3 and self.words.get(name[:2], "")[:1] == "v":
                        continue  # 弘扬好…: a verb, not a surname and a given name
                    out.append(Candidate(a, a + n, "PERSON", "person:role", info={"cue": m.group()}))
        # lists of names: 李某、王某某、张某等
        for m in re.finditer(r"[\u4e00-\u9fff]{2,3}(?:、[\u4e00-\u9fff]{2,3}){1,}(?=等|、|,|，|。)", text):
            items = m.group().split("、")
            pos = m.start()
            spans = []
            for item in items:
                spans.append((pos, pos + len(item)))
                pos += len(item) + 1
            if sum(self.is_surname_start(text[s:e]) and not self.is_common_word(text[s:e]) for s, e in spans[1:]) < len(spans) - 1:
                continue
            if any(self.words.get(text[s + 1 : e], "")[:1] == "v" for s, e in spans[1:]):
                continue  # 双报到、双服务: a surname-like character before a verb is no name
            if len({text[e - 1] for s, e in spans}) == 1 and text[spans[0][1] - 1] in self.list_endings:
                continue  # 楼栋长、单元长 / 楼栋内、单元内: roles or places in parallel, not names
            for i, (s, e) in enumerate(spans):
                if i == 0:
                    for n in (3, 2):
                        if e - n >= s and self.is_surname_start(text[e - n : e]) and not self.is_common_word(text[e - n : e]):
                            out.append(Candidate(e - n, e, "PERSON", "person:list", info={"items": len(spans)}))
                else:
                    out.append(Candidate(s, e, "PERSON", "person:list", info={"items": len(spans)}))
        return out

    def _names_in(self, text: str, start: int, stop: int, source: str) -> list[Candidate]:
        out = []
        for tok in re.finditer(r"[^\s\u3000]+", text[start:stop]):
            s = start + tok.start()
            word = tok.group()
            cue = self.cue_strip.match(word)
            if cue:
                s += cue.end()
                word = word[cue.end() :]
            if word.endswith(self.credit):
                word = word[: -len(self.credit)]
            if not (2 <= len(word) <= 8) or not all(is_cjk(c) or c == "·" for c in word):
                continue
            for o, n in self.split_names(word):
                out.append(Candidate(s + o, s + o + n, "PERSON", source, info={"token": len(word)}))
        return out

    def quotes(self, text: str) -> list[Candidate]:
        out = []
        for m in self.quote_re.finditer(text):
            g = 1 if m.group(1) is not None else 2
            s, e = m.span(g)
            inner = m.group(g)
            if not inner.strip():
                continue
            after = text[m.end() : m.end() + 8]
            before = text[max(0, m.start() - 6) : m.start()]
            info = {"quoted": True, "after": after, "before": before}
            out.append(Candidate(s, e, "PROGRAMME", "quote", info=info))
            tail = self.org_re.search(inner[-5:])
            if tail and tail.end() == len(inner[-5:]) and self._head_in_common_word(inner, len(inner) - len(tail.group()), len(inner)):
                tail = None
            if tail or after.startswith(self.t_org_heads2):
                out.append(Candidate(s, e, "ORG", "quote", info=info))
        # brand names with a quoted character inside (暖“新”驿站): every short prefix, a head at the end
        for m in re.finditer(r"“[^“”\n]{1,3}”", text):
            qs, qe = m.span()
            ends = [qe + j for j in range(1, 5) if qe + j <= len(text) and all(is_cjk(ch) for ch in text[qe : qe + j])]
            ends = [e for e in ends if text[qe:e].endswith(self.t_prog_heads)]
            for k in range(1, 4):
                s = qs - k
                if s < 0 or not is_cjk(text[s]):
                    break
                for e in ends:
                    out.append(Candidate(s, e, "PROGRAMME", "quote:inner", info={"quoted": False}))
        # a headline that repeats a quoted name of the text (游园赏美景 千人健步行 … “游园赏美景 千人健步行”活动)
        quoted = {}
        for c in out:
            if c.source == "quote" and c.label == "PROGRAMME":
                quoted.setdefault(_normal(text[c.start : c.end]), (c.start, c.end))
        for m in re.finditer(r"(?:^|\n)([^\n]{4,24})(?=\n|$)", text):
            s, e = m.span(1)
            line = text[s:e]
            if line.strip() != line or any(ch in "。!！?？“”《》:：" for ch in line):
                continue
            echo = quoted.get(_normal(line))
            if echo is not None and echo[0] != s:
                out.append(Candidate(s, e, "PROGRAMME", "quote:headline", info={"quoted": False, "echo": echo}))
        return out

    def policies(self, text: str) -> list[Candidate]:
        out = []
        for m in self.book_re.finditer(text):
            s, e = m.span(1)
            out.append(Candidate(s, e, "POLICY", "policy", info={"booked": True}))
        return out

    def unquoted_programmes(self, text: str, starts: set[int], stops: set[int] | None = None) -> list[Candidate]:
        stops = stops or set()
        out = []
        for m in self.prog_unquoted_re.finditer(text):
            a, b = m.span()
            out.append(Candidate(a, b, "PROGRAMME", "programme", info={"head": m.group(), "alone": True}))
            for s in range(a - 1, max(-1, a - 20), -1):
                ch = text[s]
                if not is_cjk(ch) or ch == "的" or s in stops:
                    break
                if s in starts:
                    out.append(Candidate(s, b, "PROGRAMME", "programme", info={"head": m.group()}))
        return out
