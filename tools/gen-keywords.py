#!/usr/bin/env python3
"""Generate config/src/keywords/tables.rs from HAProxy's configuration manual.

Usage: tools/gen-keywords.py [MANUAL] [-o OUTPUT]

MANUAL defaults to ../shared/ref/haproxy-3.2/configuration.txt relative to the
repository root, OUTPUT to config/src/keywords/tables.rs. Standard library only.
Run `rustfmt --edition 2021 config/src/keywords/tables.rs` afterwards.

The manual is regular enough to be read mechanically:
  * section bodies start with "N.N. Title" underlined by dashes;
  * keyword entries are blocks of lines starting in column 0 (one line per
    synopsis variant, continuation lines indented 3+ spaces), preceded by a
    blank line and followed by their description indented by 2 spaces;
  * 4.1 and 4.3 are fixed-width matrices;
  * fetch headings read "name(<args>) : type", converter types come from the
    summary table at the top of 7.3.1.
Whatever the manual gets wrong or leaves out is corrected in the OVERRIDES
dicts below, each with a comment saying why.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field

INF = None  # unbounded arity maximum

# ---------------------------------------------------------------------------
# Hand-written corrections. Every entry says why it is needed.
# ---------------------------------------------------------------------------

# Proxy keyword arity overrides: (min, max or INF).
PROXY_ARITY_OVERRIDES: dict[str, tuple[int, int | None]] = {
    # "acl <aclname> <criterion> [flags] [operator] <value> ..." suggests a
    # mandatory value, but boolean fetches need none ("acl h2 fc_http_major 2"
    # and "acl tls ssl_fc" are both valid).
    "acl": (2, INF),
    # "balance <algorithm> [ <arguments> ]": some algorithms take several
    # arguments (url_param <param> [check_post], hdr(<name>) [use_domain_only]).
    "balance": (1, INF),
    # Three synopsis variants whose optional parts combine ("usesrc ..."
    # together with "interface ...").
    "source": (1, INF),
    # "redirect location <loc> [code <code>] <option> ...": <option> is a list
    # of optional flags, "redirect location /x" alone is valid.
    "redirect": (2, INF),
    # "compression algo|type|offload|..." sub-keywords, each its own arity.
    "compression": (1, INF),
    # The matrix lists "crt" but 4.2 documents only its 3.2 name "ssl-f-use";
    # keep it accepted with the same shape (rejecting is worse than accepting).
    "crt": (0, INF),
    # "http-check expect" / "tcp-check expect": the synopsis spans three
    # lines ending in "[!] <match> <pattern>", matchers like "rstatus" take a
    # pattern, "string" too; be permissive.
    "http-check expect": (1, INF),
    "tcp-check expect": (1, INF),
    # "stick-table type <type> size <size> [expire ..] [args...]": "type
    # string len 32" etc. keep it open.
    "stick-table": (2, INF),
    # "description <string>": every remaining word is joined into the text.
    "description": (1, INF),
    # "log <target> ... <facility> [...]" plus "log global": many optional
    # parts ("log stdout format raw daemon"); keep it open.
    "log": (1, INF),
    # "retry-on [space-delimited list of keywords]": one or more keywords.
    "retry-on": (1, INF),
    # "hash-type <method> <function> <modifier>": function and modifier are
    # optional ("hash-type consistent").
    "hash-type": (1, 3),
}

# Proxy keywords HAProxy 3.2 still recognises only to refuse them with a
# helpful message (cfgparse-listen.c / proxy.c). Columns: defaults, frontend,
# listen, backend. The manual no longer documents them.
REMOVED_PROXY_KEYWORDS: list[tuple[str, str, str]] = [
    # (name, columns "defaults frontend listen backend" as Y/N, usage)
    # cfgparse-listen.c: "'bind-process' is not supported anymore."
    ("bind-process", "YYYY", "bind-process [ all | odd | even | <process_num>[-[<process_num>]] ] ..."),
    # cfgparse-listen.c: "'monitor-net' doesn't exist anymore. Please use
    # 'http-request return status 200 if { src ... }' instead."
    ("monitor-net", "YYYN", "monitor-net <source>"),
    # proxy.c proxy_parse_timeout(): "not supported anymore since HAProxy 2.1".
    ("clitimeout", "YYYN", "clitimeout <timeout>"),
    ("contimeout", "YNYY", "contimeout <timeout>"),
    ("srvtimeout", "YNYY", "srvtimeout <timeout>"),
    # cfgparse-listen.c: "'appsession' is not supported anymore since 1.6".
    ("appsession", "NNYY", "appsession <cookie> len <length> timeout <holdtime>"),
    # cfgparse-listen.c: "The 'block' directive is not supported anymore
    # since HAProxy 2.1. Use 'http-request deny' ...".
    ("block", "NYYY", "block { if | unless } <condition>"),
    # The reqxxx/rspxxx family: refused with "not supported anymore since
    # HAProxy 2.1. Use 'http-request ...'" (seen up to 2.4 at least).
] + [
    (n, "YYYY", f"{n} <search> <string> [{{if | unless}} <cond>]")
    for n in ("reqrep", "reqirep", "rsprep", "rspirep")
] + [
    (n, "YYYY", f"{n} <search> [{{if | unless}} <cond>]")
    for n in ("reqadd", "reqallow", "reqdel", "reqdeny", "reqiallow", "reqidel", "reqideny",
              "reqipass", "reqitarpit", "reqpass", "reqtarpit", "rspadd", "rspdel", "rspdeny",
              "rspidel", "rspideny")
]

# Global keywords HAProxy 3.2 recognises only to refuse them
# (cfg_parse_global_unsupported_opts in cfgparse-global.c).
REMOVED_GLOBAL_KEYWORDS: list[tuple[str, str]] = [
    ("nbproc", "nbproc <number>"),
    ("tune.chksize", "tune.chksize <number>"),
]

# Deprecated options documented without a "May be used in sections" table:
# take the columns of their documented replacement.
COLUMNS_FROM: dict[str, str] = {
    "option accept-invalid-http-request": "option accept-unsafe-violations-in-http-request",
    "option accept-invalid-http-response": "option accept-unsafe-violations-in-http-response",
}

# Global keyword arity overrides.
GLOBAL_ARITY_OVERRIDES: dict[str, tuple[int, int | None]] = {
    # "stats socket|timeout|maxconn|..." sub-keywords are parsed by hand.
    "stats": (1, INF),
    # "cpu-map [auto:]<thread-group>[/<thread-set>] <cpu-set>[,...] [...]".
    "cpu-map": (2, INF),
    # "log <target> ... <facility> [...]": "log stdout format raw local0".
    "log": (1, INF),
    # "description <text>": every remaining word is joined into the text.
    "description": (1, INF),
}


# Fetch/converter argument types by argument name (see arg_type()).
ARG_TYPES_BY_NAME: dict[str, str] = {
    "table": "Table",
    "backend": "Proxy",
    "frontend": "Proxy",
    "var": "Var",
    "var-name": "Var",
    "var_name": "Var",
    "regex": "Regex",
    "userlist": "Userlist",
    "map_name": "File",
    "map-name": "File",
    "file-name": "File",
    "period": "Time",
    "time": "Time",
    "timeout": "Time",
    "size": "Size",
    "ipv4": "Ipv4",
    "ipv6": "Ipv6",
    "occ": "Int",
    "integer": "Int",
    "int": "Int",
    "idx": "Int",
    "ctr": "Int",
    "offset1": "Int",
    "offset2": "Int",
    "avalanche": "Int",
    "seed": "Int",
    "count": "Int",
    "index": "Int",
    "chunk_size": "Int",
    "truncate": "Int",
    "field_number": "Int",
    "range": "Int",
    "offset": "Int",
    "version": "Int",
    "bits": "Int",
    "filter_option": "Int",
}

# Per-function argument type corrections: the argument name alone misleads.
# Keys are (kind, name), kind "fetch" or "conv".
ARG_TYPE_OVERRIDES: dict[tuple[str, str], list[str]] = {
    # bytes(): "<offset> and <length> may be integers or variable names".
    ("conv", "bytes"): ["Str", "Str"],
    # payload fetches: offsets and lengths are plain integers.
    ("fetch", "payload"): ["Int", "Int"],
    ("fetch", "req.payload"): ["Int", "Int"],
    ("fetch", "res.payload"): ["Int", "Int"],
    ("fetch", "payload_lv"): ["Int", "Int", "Str"],
    ("fetch", "req.payload_lv"): ["Int", "Int", "Str"],
    ("fetch", "res.payload_lv"): ["Int", "Int", "Str"],
    # payload_lv's <offset2> accepts "+N"/"-N" relative offsets: a string.
    # date()/http_date() <offset> is a signed integer.
    ("fetch", "date"): ["Int", "Str"],
    ("conv", "http_date"): ["Int", "Str"],
    # capture-req/res(<id>): the capture slot number.
    ("conv", "capture-req"): ["Int"],
    ("conv", "capture-res"): ["Int"],
}

# Converters whose summary-table line is missing or whose heading is a pattern.
# map_<match_type>[_<output_type>]: expanded below (MAP_MATCH_TYPES).
MAP_MATCH_TYPES = ["str", "beg", "sub", "dir", "dom", "end", "reg", "regm", "int", "ip"]
MAP_OUTPUT_TYPES = {"str": "Str", "int": "Int", "ip": "Addr"}

# ACL keywords HAProxy defines that the manual's "ACL derivatives" blocks do
# not list (src/http_acl.c: acl_kws). (name, base fetch, match method).
EXTRA_ACL_DERIVATIVES: list[tuple[str, str, str]] = (
    [("cook" + s, "req.cook", m) for s, m in
     [("", "str"), ("_beg", "beg"), ("_dir", "dir"), ("_dom", "dom"), ("_end", "end"),
      ("_len", "len"), ("_reg", "reg"), ("_sub", "sub")]]
    + [("scook" + s, "res.cook", m) for s, m in
       [("", "str"), ("_beg", "beg"), ("_dir", "dir"), ("_dom", "dom"), ("_end", "end"),
        ("_len", "len"), ("_reg", "reg"), ("_sub", "sub")]]
    + [("shdr" + s, "res.hdr", m) for s, m in
       [("", "str"), ("_beg", "beg"), ("_dir", "dir"), ("_dom", "dom"), ("_end", "end"),
        ("_len", "len"), ("_reg", "reg"), ("_sub", "sub")]]
    + [("req_ver", "req.ver", "str"), ("resp_ver", "res.ver", "str"),
       ("http_auth_group", "http_auth_group", "str")]
)

# Derivative lines in the manual that are typos: name -> replacement or None
# (dropped).
ACL_DERIVATIVE_FIXES: dict[str, str | None] = {
    # res.cook's block says "res.scook([<name>] : exact string match": the
    # ACL keyword is "scook" (added by EXTRA_ACL_DERIVATIVES).
    "res.scook": None,
}

# Map "... match" wording of derivative blocks to `-m` method names.
MATCH_WORDS = {
    "exact string match": "str",
    "prefix match": "beg",
    "suffix match": "end",
    "substring match": "sub",
    "subdir match": "dir",
    "domain match": "dom",
    "length match": "len",
    "regex match": "reg",
    "integer match": "int",
    "decimal match": "int",
    "hex binary match": "bin",
    "case insensitive method match": "str",
    "group ...": "str",
}

# ---------------------------------------------------------------------------
# Manual reading
# ---------------------------------------------------------------------------


class Manual:
    def __init__(self, text: str):
        self.lines = text.expandtabs(8).splitlines()
        # Body section headings: "N.N. Title" followed by a dashes line.
        self.sections: list[tuple[str, int]] = []
        for i, line in enumerate(self.lines[:-1]):
            m = re.match(r"^(\d+(?:\.\d+)*)\.\s+\S", line)
            if m and re.match(r"^-{3,}\s*$", self.lines[i + 1]):
                self.sections.append((m.group(1), i))

    def span(self, num: str, include_children: bool = True) -> tuple[int, int]:
        """Line range [start, end) of section `num` (with its sub-sections)."""
        for k, (n, start) in enumerate(self.sections):
            if n == num:
                end = len(self.lines)
                for n2, s2 in self.sections[k + 1:]:
                    if include_children and n2.startswith(num + "."):
                        continue
                    end = s2
                    break
                return start, end
        raise SystemExit(f"section {num} not found in manual")

    def entries(self, lo: int, hi: int) -> list[Entry]:
        """Keyword entries: blocks of column-0 lines after a blank line,
        followed by an indented description."""
        out: list[Entry] = []
        lines = self.lines
        i = lo + 2  # skip the heading and its underline
        while i < hi:
            line = lines[i]
            prev_blank = i == lo + 2 or lines[i - 1].strip() == "" or re.match(r"^-{3,}\s*$", lines[i - 1])
            if prev_blank and line[:1].strip() and not line.startswith(" "):
                # collect the block of heading lines (+ continuations)
                j = i
                heads: list[str] = []
                firsts: list[str] = []
                while j < hi and lines[j][:1].strip():
                    heads.append(lines[j].rstrip())
                    firsts.append(lines[j].rstrip())
                    j += 1
                    # continuation lines: indented 3+ spaces right after a
                    # heading, opening a new optional/choice group or
                    # continuing an unclosed one (a few descriptions are
                    # indented by 3, like "docroot")
                    # ("table" in peers continues with "      size <size>").
                    while j < hi and re.match(r"^ {3,}\S", lines[j]) and (
                        re.match(r"^\s*[\[{<|]", lines[j])
                        or _unbalanced(heads[-1])
                        or re.match(r"^ {4,}\S", lines[j])
                    ):
                        heads[-1] += " " + lines[j].strip()
                        j += 1
                nxt = j
                while nxt < hi and lines[nxt].strip() == "":
                    nxt += 1
                if j < hi and re.match(r"^ {2,3}\S", lines[j]) or (
                    nxt > j and nxt < hi and re.match(r"^ {2,3}\S", lines[nxt]) and _looks_like_heading(heads)
                ):
                    body_end = j
                    while body_end < hi:
                        l2 = lines[body_end]
                        if l2[:1].strip() and lines[body_end - 1].strip() == "":
                            break
                        body_end += 1
                    out.append(Entry(heads, firsts, lines[j:body_end], i))
                    i = body_end
                    continue
                i = j
                continue
            i += 1
        return out


def _unbalanced(s: str) -> bool:
    return s.count("[") > s.count("]") or s.count("{") > s.count("}")


def _looks_like_heading(heads: list[str]) -> bool:
    """A synopsis block followed by a blank line (e.g. "unix-bind"), as
    opposed to a prose paragraph followed by an indented example."""
    return all(
        re.match(r"^[a-z0-9][\w.+-]*(\(|\s|$)", h) and not h.rstrip().endswith((".", ":", ","))
        for h in heads
    )


@dataclass
class Entry:
    # synopsis lines with their continuation lines joined
    heads: list[str]
    # the same, first physical line only (used as `usage`)
    firsts: list[str]
    body: list[str]
    line: int


# ---------------------------------------------------------------------------
# Synopsis grammar -> arity
# ---------------------------------------------------------------------------

TOKEN_RE = re.compile(r"\s+|<[^>]*>|\[|\]|\{|\}|\||\.\.\.|[^\s\[\]{}|<]+|<")


def _tokenize(s: str) -> list[tuple[str, bool]]:
    """Tokens with a flag "preceded by whitespace"."""
    toks: list[tuple[str, bool]] = []
    space = True
    for m in TOKEN_RE.finditer(s):
        t = m.group(0)
        if t.isspace():
            space = True
            continue
        toks.append((t, space))
        space = False
    return toks


@dataclass
class Group:
    kind: str  # "opt" or "choice"
    alts: list[list[list[object]]]  # alternatives, each a list of words


def _parse(toks: list[tuple[str, bool]], pos: int, stop: str | None):
    """Parse alternatives until `stop`; return (alts, pos)."""
    alts: list[list[list[object]]] = []
    words: list[list[object]] = []
    while pos < len(toks):
        t, space = toks[pos]
        if stop is not None and t == stop:
            pos += 1
            break
        if t == "|":
            alts.append(words)
            words = []
            pos += 1
            continue
        if t in ("[", "{"):
            sub, pos2 = _parse(toks, pos + 1, "]" if t == "[" else "}")
            elem: object = Group("opt" if t == "[" else "choice", sub)
            pos = pos2
        elif t in ("]", "}"):
            # unbalanced closer: ignore
            pos += 1
            continue
        else:
            elem = t
            pos += 1
        if space or not words:
            words.append([elem])
        else:
            words[-1].append(elem)
    alts.append(words)
    return alts, pos


def _atom_arity(a: str) -> tuple[int, int | None]:
    if a == "...":
        return 0, INF
    name = a.strip("<>").rstrip("*").rstrip(".")
    if a.startswith("<"):
        if re.fullmatch(r"(options?|params?|args?|arguments?)", name.strip()):
            return 0, INF
        if name.strip() in ("condition", "cond"):
            return 1, INF
        if ",...]" in a or ",..." in a:
            return 1, 1  # "<event[,...]>": one comma-separated word
        if "..." in a or a.endswith("*"):
            return 1, INF
        return 1, 1
    if a.endswith("*") or "..." in a:
        return (0 if a.rstrip("*") == "" else 1), INF
    return 1, 1


def _add(a, b):
    return a[0] + b[0], (None if a[1] is None or b[1] is None else a[1] + b[1])


def _word_arity(word: list[object]) -> tuple[int, int | None]:
    if len(word) == 1:
        e = word[0]
        if isinstance(e, Group):
            return _group_arity(e)
        return _atom_arity(e)  # type: ignore[arg-type]
    # Glued elements form one word ("[<address>]:<port>", "<set>[,...]"),
    # unless a repetition marker is glued ("<directive>...", "[<opt>]*").
    atoms = [e for e in word if not isinstance(e, Group)]
    rep = any(isinstance(e, str) and (e == "..." or e == "*" or (e.endswith("*") and not e.startswith("<"))) for e in word)
    has_required = any(isinstance(e, str) and e not in ("...", "*") for e in atoms)
    if rep and not any(isinstance(e, str) and e.startswith(",") for e in atoms):
        if not has_required and isinstance(word[0], Group):
            g = _group_arity(word[0])
            return g[0], INF
        return (1 if has_required else 0), INF
    if not has_required:
        # only groups glued together: min of them all, max 1 word
        mins = [_group_arity(e)[0] for e in word if isinstance(e, Group)]
        return (1 if any(mins) else 0), 1
    return 1, 1


def _seq_arity(words: list[list[object]]) -> tuple[int, int | None]:
    acc: tuple[int, int | None] = (0, 0)
    for w in words:
        acc = _add(acc, _word_arity(w))
    return acc


def _alts_arity(alts) -> tuple[int, int | None]:
    res = [_seq_arity(a) for a in alts]
    lo = min(r[0] for r in res)
    hi = None if any(r[1] is None for r in res) else max(r[1] for r in res)  # type: ignore[type-var]
    return lo, hi


def _group_arity(g: Group) -> tuple[int, int | None]:
    lo, hi = _alts_arity(g.alts)
    if g.kind == "opt":
        return 0, hi
    return lo, hi


def clean_synopsis(s: str) -> str:
    s = re.sub(r"\(deprecated\)", "", s)
    s = re.sub(r"\[\s*EXPERIMENTAL\s*\]", "", s)
    return s.strip()


def synopsis_arity(rest: str) -> tuple[int, int | None]:
    """Arity of the words after the keyword in one synopsis line."""
    text = clean_synopsis(rest)
    toks = _tokenize(text)
    if not toks:
        return 0, 0
    alts, _ = _parse(toks, 0, None)
    lo, hi = _alts_arity(alts)
    # Optional named settings ("[len <length>]", "[header <name>]",
    # "[comment <msg>]") are parsed by HAProxy in a loop that accepts them in
    # any order and more than once: leave the maximum open rather than
    # reject a valid line.
    if re.search(r"\[\s*[a-z][\w-]*\s+[<{]", text):
        hi = INF
    return lo, hi


def merge_arity(arities: list[tuple[int, int | None]]) -> tuple[int, int | None]:
    lo = min(a[0] for a in arities)
    hi = None if any(a[1] is None for a in arities) else max(a[1] for a in arities)  # type: ignore[type-var]
    return lo, hi


def collapse(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------


@dataclass
class Kw:
    name: str
    defaults: str = "Yes"  # Yes | No | NamedOnly
    frontend: bool = True
    listen: bool = True
    backend: bool = True
    negatable: bool = False
    deprecated: bool = False
    arities: list[tuple[int, int | None]] = field(default_factory=list)
    usage: str = ""
    arity: tuple[int, int | None] | None = None


def parse_cols(cells: list[str]) -> tuple[str, bool, bool, bool]:
    d = cells[0]
    defaults = "NamedOnly" if "(!)" in d else ("Yes" if d.startswith(("X", "yes")) else "No")

    def yes(c: str) -> bool:
        return c.startswith(("X", "yes"))

    return defaults, yes(cells[1]), yes(cells[2]), yes(cells[3])


def proxy_matrix(man: Manual) -> list[Kw]:
    lo, hi = man.span("4.1")
    out: list[Kw] = []
    for line in man.lines[lo:hi]:
        m = re.match(
            r"^([a-z][\w .-]*?)\s+(\(\*\)|\(deprecated\))?\s*(X \(!\)|X|-)\s+(X|-)\s+(X|-)\s+(X|-)\s*$", line
        )
        if not m:
            continue
        name = collapse(m.group(1))
        d, f, l, b = parse_cols([m.group(3), m.group(4), m.group(5), m.group(6)])
        out.append(
            Kw(
                name=name,
                defaults=d,
                frontend=f,
                listen=l,
                backend=b,
                negatable=m.group(2) == "(*)",
                deprecated=m.group(2) == "(deprecated)",
            )
        )
    return out


def used_in_sections(body: list[str]) -> list[str] | None:
    for k, line in enumerate(body):
        if "May be used in sections" in line and k + 1 < len(body):
            cells = [c.strip() for c in body[k + 1].split("|")]
            if len(cells) == 4:
                return cells
    return None


# Multi-word keyword families: the first word never stands alone.
FAMILIES = {
    "capture", "timeout", "option", "stats", "stick", "tcp-request", "tcp-response",
    "http-check", "tcp-check", "email-alert", "external-check", "monitor", "rate-limit",
    "persist", "declare",
}


def heading_words(head: str) -> list[str]:
    return clean_synopsis(head).split()


def match_keyword(words: list[str], known: dict[str, Kw]) -> tuple[str, int] | None:
    """Longest known keyword that prefixes `words` (the last keyword word may
    carry "(...)" arguments, e.g. "http-check set-var(<var>)")."""
    for n in range(min(4, len(words)), 0, -1):
        cand = " ".join(words[:n])
        if cand in known:
            return cand, n
        base = " ".join(words[: n - 1] + [words[n - 1].split("(", 1)[0]])
        if base in known and "(" in words[n - 1]:
            return base, n
    return None


def derive_name(words: list[str]) -> tuple[str, int]:
    if words[0] in FAMILIES and len(words) > 1 and not words[1].startswith(("<", "[", "{")):
        if words[0] == "capture" and len(words) > 2:
            return " ".join(words[:3]), 3
        return " ".join([words[0], words[1].split("(", 1)[0]]), 2
    return words[0].split("(", 1)[0], 1


def proxy_keywords(man: Manual) -> tuple[list[Kw], list[Kw]]:
    matrix = proxy_matrix(man)
    known = {k.name: k for k in matrix}
    lo, hi = man.span("4.2")
    for e in man.entries(lo, hi):
        cols = used_in_sections(e.body)
        for head, first in zip(e.heads, e.firsts):
            words = heading_words(head)
            if not words:
                continue
            negated = False
            if words[0] == "no" and len(words) > 1:
                negated = True
                words = words[1:]
            hit = match_keyword(words, known)
            if hit is None:
                name, n = derive_name(words)
                kw = Kw(name=name)
                if cols:
                    kw.defaults, kw.frontend, kw.listen, kw.backend = parse_cols(cols)
                known[name] = kw
                matrix.append(kw)
            else:
                name, n = hit
                kw = known[name]
            if "(deprecated)" in head:
                kw.deprecated = True
            if negated:
                kw.negatable = True
                continue
            if not kw.usage:
                kw.usage = collapse(first)
            kw.arities.append(synopsis_arity(" ".join(words[n:])))
    for name, cols, usage in REMOVED_PROXY_KEYWORDS:
        if name not in known:
            # Not flagged deprecated: HAProxy refuses them, the parser keeps
            # its own list of removed keywords and their replacement hints.
            kw = Kw(name=name, usage=usage, defaults="Yes" if cols[0] == "Y" else "No",
                    frontend=cols[1] == "Y", listen=cols[2] == "Y", backend=cols[3] == "Y")
            words = usage.split()
            kw.arities.append(synopsis_arity(" ".join(words[1:])))
            known[name] = kw
            matrix.append(kw)
    for name, src in COLUMNS_FROM.items():
        if name in known and src in known:
            k, s2 = known[name], known[src]
            k.defaults, k.frontend, k.listen, k.backend = s2.defaults, s2.frontend, s2.listen, s2.backend
    for kw in matrix:
        if kw.name in PROXY_ARITY_OVERRIDES:
            kw.arity = PROXY_ARITY_OVERRIDES[kw.name]
        elif kw.arities:
            kw.arity = merge_arity(kw.arities)
        else:
            kw.arity = (0, INF)
        if not kw.usage:
            kw.usage = kw.name
    proxy = [k for k in matrix if not k.name.startswith("option ")]
    options = [k for k in matrix if k.name.startswith("option ")]
    for o in options:
        o.name = o.name[len("option "):]
    return proxy, options


@dataclass
class SimpleKw:
    name: str
    arity: tuple[int, int | None]
    usage: str
    section: str = ""


def global_keywords(man: Manual) -> list[SimpleKw]:
    lo, hi = man.span("3", include_children=False)
    listed: list[str] = []
    for line in man.lines[lo:hi]:
        m = re.match(r"^   - (\S+)", line)
        if m:
            listed.append(m.group(1))
    found: dict[str, SimpleKw] = {}
    arities: dict[str, list[tuple[int, int | None]]] = {}
    for num in ("3.1", "3.2", "3.3", "3.4"):
        slo, shi = man.span(num)
        for e in man.entries(slo, shi):
            for head, first in zip(e.heads, e.firsts):
                words = heading_words(head)
                if not words or not re.match(r"^[a-z0-9][\w.-]*$", words[0]):
                    continue
                name = words[0]
                if name not in found:
                    found[name] = SimpleKw(name, (0, INF), collapse(first))
                arities.setdefault(name, []).append(synopsis_arity(" ".join(words[1:])))
    for name in listed:
        if name not in found:
            found[name] = SimpleKw(name, (0, INF), name)
    for name, usage in REMOVED_GLOBAL_KEYWORDS:
        if name not in found:
            found[name] = SimpleKw(name, synopsis_arity(" ".join(usage.split()[1:])), usage)
    for name, kw in found.items():
        if name in GLOBAL_ARITY_OVERRIDES:
            kw.arity = GLOBAL_ARITY_OVERRIDES[name]
        elif name in arities:
            kw.arity = merge_arity(arities[name])
    return list(found.values())


# --- actions ---------------------------------------------------------------


@dataclass
class Action:
    name: str
    cols: list[bool]
    usage: str = ""


def actions(man: Manual) -> list[Action]:
    lo, hi = man.span("4.3")
    out: list[Action] = []
    seen = set()
    for line in man.lines[lo:hi]:
        m = re.match(r"^([a-z][\w.-]*(?: [a-z][\w.-]*)?)(?:\s+\(deprecated\))?((?:\s+[X-]){8})\s*$", line)
        if not m:
            continue
        # "expect-proxy layer4" is the action "expect-proxy" with its
        # mandatory argument: the name is the first word of the row.
        name = m.group(1).split()[0]
        cols = [c == "X" for c in m.group(2).split()]
        if name not in seen:
            seen.add(name)
            out.append(Action(name, cols))
    alo, ahi = man.span("4.4")
    by_name = {a.name: a for a in out}
    for e in man.entries(alo, ahi):
        for head, first in zip(e.heads, e.firsts):
            w = heading_words(head)
            if not w:
                continue
            name = w[0].split("(", 1)[0]
            a = by_name.get(name)
            if a is not None and not a.usage:
                a.usage = collapse(first)
    for a in out:
        if not a.usage:
            a.usage = a.name
    return out


# --- fetches / converters --------------------------------------------------


def split_args(inner: str) -> list[tuple[str, bool, bool]]:
    """Split "[<name>[,<occ>]]" into [(argname, optional, variadic)]."""
    args: list[tuple[str, bool, bool]] = []
    depth = 0
    cur = ""
    cur_depth = None

    def flush():
        nonlocal cur, cur_depth
        t = cur.strip()
        if t:
            variadic = t.endswith("*") or "..." in t
            name = t.replace("...", "").rstrip("*").strip()
            name = name.strip("<>").strip()
            if name == "" and variadic and args:
                # "[,...]": repeat the previous argument
                prev = args[-1]
                args.append((prev[0], True, True))
            elif name or variadic:
                args.append((name or "arg", (cur_depth or 0) > 0, variadic))
        cur = ""
        cur_depth = None

    for ch in inner:
        if ch == "[":
            depth += 1
            continue
        if ch == "]":
            depth -= 1
            continue
        if ch == ",":
            flush()
            continue
        if cur_depth is None and not ch.isspace():
            cur_depth = depth
        cur += ch
    flush()
    return args


# HAProxy's sample argument lists hold at most 12 entries (ARG12, ARGM_NBARGS);
# a "[,<x>...]" list is expanded to that many optional arguments.
VARIADIC_MAX = 12


def arg_type(name: str) -> str:
    n = name.strip().lower()
    if "/" in n and n.endswith("server"):
        return "Server"
    if n.startswith("!") or n.startswith("[!]"):
        n = n.lstrip("[!]")
    return ARG_TYPES_BY_NAME.get(n, "Str")


def parse_sig(sig: str) -> tuple[str, list[tuple[str, bool, bool]]]:
    """"req.hdr([<name>[,<occ>]])" -> ("req.hdr", [("name", True, False), ("occ", True, False)])."""
    sig = sig.strip()
    if "(" not in sig:
        return sig, []
    name, rest = sig.split("(", 1)
    inner = rest.rsplit(")", 1)[0] if ")" in rest else rest
    # "[<backend>/]<server>" -> single server argument
    if re.fullmatch(r"\[<backend>/\]<server>", inner.strip()):
        return name, [("backend/server", False, False)]
    # "[!]<name>" -> name
    inner = inner.replace("[!]", "")
    return name, split_args(inner)


def build_args(kind: str, name: str, args: list[tuple[str, bool, bool]]) -> tuple[list[str], int]:
    types: list[str] = []
    min_args = 0
    for aname, optional, variadic in args:
        t = arg_type(aname)
        if variadic:
            # The table has no "variadic" flag: repeat the argument up to
            # HAProxy's cap on argument lists (permissive, see VARIADIC_MAX).
            types.append(t)
            while len(types) < VARIADIC_MAX:
                types.append(t)
            continue
        types.append(t)
        if not optional:
            min_args = len(types)
    ov = ARG_TYPE_OVERRIDES.get((kind, name))
    if ov is not None:
        types = list(ov) + types[len(ov):]
    return types, min_args


SMP_TYPES = {
    "boolean": "Bool", "bool": "Bool",
    "integer": "Int", "signed integer": "Int", "signed": "Int", "int": "Int",
    "string": "Str", "str": "Str",
    "binary": "Bin", "bin": "Bin",
    "ip": "Addr", "address": "Addr",
    "ipv4": "Ipv4", "ipv6": "Ipv6",
    "method": "Meth", "integer + string": "Meth",
    "any": "Any", "undefined": "Any", "same": "Any",
}


def smp_type(t: str) -> str:
    t = collapse(t.replace("(deprecated)", "")).lower()
    return SMP_TYPES.get(t, "Any")


@dataclass
class Fetch:
    name: str
    args: list[str]
    min_args: int
    out: str
    deprecated: bool
    usage: str


def fetches(man: Manual) -> tuple[list[Fetch], list[tuple[str, str, str]]]:
    out: dict[str, Fetch] = {}
    argnames: dict[str, list[str]] = {}
    derivs: list[tuple[str, str, str]] = []
    for num in ("7.3.2", "7.3.3", "7.3.4", "7.3.5", "7.3.6", "7.3.7"):
        lo, hi = man.span(num)
        lines = man.lines[lo:hi]
        # 1) detailed headings "sig : type [(deprecated)]" and "sig type"
        # the first fetch of a heading block is the base of its derivatives
        # ("req.cook(...)" then its deprecated alias "cook(...)")
        last_base: str | None = None
        in_deriv = False
        prev_heading = False
        block: list[str] = []
        for line in lines:
            m = re.match(r"^([a-z0-9][^\s:]*(?:\([^)]*\)[^\s:]*)?)\s+:\s+(.+?)\s*$", line)
            # a few headings lack the colon: "req.ssl_cipherlist binary"
            m2 = re.match(r"^([a-z0-9][\w.+-]*) (binary|string|integer|boolean|ip)\s*$", line)
            if m or m2:
                sig, typ = (m.group(1), m.group(2)) if m else (m2.group(1), m2.group(2))  # type: ignore[union-attr]
                name, args = parse_sig(sig)
                types, min_args = build_args("fetch", name, args)
                dep = "(deprecated)" in typ
                if name not in out:
                    out[name] = Fetch(name, types, min_args, smp_type(typ), dep, collapse(line))
                    argnames[name] = [a[0] for a in args]
                if not prev_heading:
                    last_base = name
                    block = []
                block.append(name)
                prev_heading = True
                in_deriv = False
                continue
            prev_heading = False
            # "fc_rtt(<unit>)": "<unit> is facultative, by default ..."
            for fac in re.findall(r"<([\w-]+)> is facultative", line):
                for fname in block:
                    names = argnames.get(fname, [])
                    if fac in names and fname in out:
                        out[fname].min_args = min(out[fname].min_args, names.index(fac))
            if re.match(r"^  ACL derivatives", line):
                in_deriv = True
                continue
            if in_deriv:
                dm = re.match(r"^    (\S+?(?:\(.*?\)?)?)\s*:\s*(.+?)\s*$", line)
                if dm and last_base:
                    dname = dm.group(1).split("(", 1)[0]
                    method = MATCH_WORDS.get(dm.group(2).strip())
                    if method is None:
                        continue
                    if dname in ACL_DERIVATIVE_FIXES:
                        fixed = ACL_DERIVATIVE_FIXES[dname]
                        if fixed is None:
                            continue
                        dname = fixed
                    derivs.append((dname, last_base, method))
                    continue
                if line.strip() == "" or line.startswith("    "):
                    continue
                in_deriv = False
        # 2) summary table lines "sig    type" (for fetches lacking a heading)
        for line in lines:
            m = re.match(r"^([a-z0-9][^\s]*)\s{2,}(boolean|bool|integer|signed|string|binary|bin|ip|ipv4|ipv6|method|any|undefined)\s*$", line)
            if m:
                name, args = parse_sig(m.group(1))
                if name not in out:
                    types, min_args = build_args("fetch", name, args)
                    out[name] = Fetch(name, types, min_args, smp_type(m.group(2)), False, collapse(m.group(1)))
    for d in EXTRA_ACL_DERIVATIVES:
        if d not in derivs and d[1] in out:
            derivs.append(d)
    # de-duplicate derivatives
    seen = set()
    derivs = [d for d in derivs if not (d[0] in seen or seen.add(d[0]))]
    # expand derivatives as fetch entries with the base's shape
    for dname, base, _method in derivs:
        if dname not in out and base in out:
            b = out[base]
            out[dname] = Fetch(dname, list(b.args), b.min_args, b.out, b.deprecated,
                               b.usage.replace(base, dname, 1))
    return list(out.values()), derivs


@dataclass
class Conv:
    name: str
    args: list[str]
    min_args: int
    input: str
    out: str
    usage: str


def conv_type(t: str) -> str:
    t = t.strip().lower()
    if t in ("address/str", "integer/str", "address / str", "integer / str", "binary / int",
             "_match_", "_output_", "_outtype_", "same"):
        return "Any"
    return smp_type(t)


def converters(man: Manual) -> list[Conv]:
    lo, hi = man.span("7.3.1")
    lines = man.lines[lo:hi]
    table: dict[str, tuple[str, str]] = {}
    for line in lines:
        m = re.match(r"^([a-z0-9][^\s]*)\s{2,}(\S+(?:\s?/\s?\S+)?)\s{2,}(\S+(?: / \S+)?)\s*$", line)
        if m:
            name = m.group(1).split("(", 1)[0]
            table[name] = (conv_type(m.group(2)), conv_type(m.group(3)))
    out: dict[str, Conv] = {}
    for e in man.entries(lo, hi):
        for head, first in zip(e.heads, e.firsts):
            sig = head.strip().split()[0] if head.strip() else ""
            if not sig or not re.match(r"^[a-z0-9]", sig):
                continue
            name, args = parse_sig(sig)
            if "<" in name:
                continue  # map_<match_type> patterns: expanded below
            types, min_args = build_args("conv", name, args)
            inp, outp = table.get(name, ("Any", "Any"))
            if name not in out:
                out[name] = Conv(name, types, min_args, inp, outp, collapse(first))
    # map_<match_type>[_<output_type>]
    if "map" in out:
        base = out["map"]
        for mt in MAP_MATCH_TYPES:
            n = f"map_{mt}"
            if n not in out:
                out[n] = Conv(n, list(base.args), base.min_args, "Any", "Str",
                              f"map_{mt}(<map_name>[,<default_value>])")
            for ot, oty in MAP_OUTPUT_TYPES.items():
                n2 = f"map_{mt}_{ot}"
                if n2 not in out:
                    out[n2] = Conv(n2, list(base.args), base.min_args, "Any", oty,
                                   f"map_{mt}_{ot}(<map_name>[,<default_value>])")
    # summary-table converters without a detailed heading (the table spells
    # the map_<match_type> patterns "map_match" and "map_match_output")
    for name, (inp, outp) in table.items():
        if name not in out and name not in ("map_match", "map_match_output"):
            out[name] = Conv(name, [], 0, inp, outp, name)
    return list(out.values())


# --- other sections ----------------------------------------------------------

# (manual section, Section variant, include sub-sections). 12.7.1 holds the
# arguments of crt-store's "load", not section keywords.
OTHER_SECTIONS: list[tuple[str, str, bool]] = [
    ("12.2", "Userlist", True),
    ("11.2", "Peers", True),
    ("5.3.2", "Resolvers", True),
    ("12.4", "HttpErrors", True),
    ("6.2.1", "Cache", True),
    ("12.5", "Ring", True),
    ("12.3", "Mailers", True),
    ("12.9", "Program", True),
    ("10.1.1", "FcgiApp", True),
    ("12.6", "LogForward", True),
    ("12.7", "CrtStore", False),
    ("12.1", "Traces", True),
    ("12.8", "Acme", True),
    ("8.3.5", "LogProfile", True),
]

SECTION_OPENERS = {
    "global", "defaults", "frontend", "backend", "listen", "userlist", "peers", "resolvers",
    "http-errors", "cache", "ring", "mailers", "program", "fcgi-app", "log-forward", "crt-store",
    "traces", "acme", "log-profile",
}

# Section keywords documented as a pattern: (section, pattern name) ->
# [(name, arity, usage)].
SECTION_EXPANSIONS: dict[tuple[str, str], list[tuple[str, tuple[int, int | None], str]]] = {
    # resolvers: "timeout <event> <time>" with events "resolve" and "retry";
    # spelt as two-word keywords like ring's "timeout connect".
    ("Resolvers", "timeout"): [
        ("timeout resolve", (1, 1), "timeout resolve <time>"),
        ("timeout retry", (1, 1), "timeout retry <time>"),
    ],
}

# Section keyword arity overrides: (section, name) -> (min, max).
SECTION_ARITY_OVERRIDES: dict[tuple[str, str], tuple[int, int | None]] = {
    # same "log" as proxies: "log global", "log stdout format raw local0"
    ("Peers", "log"): (1, INF),
    ("LogForward", "log"): (1, INF),
    # ring "description <text>": words are joined like the proxy keyword
    ("Ring", "description"): (1, INF),
    # "table <name> type {ip | integer | string [len <n>] | binary [len <n>]}
    # [size <size>] [expire <expire>] [write-to <wtable>] [nopurge] [store ...]"
    ("Peers", "table"): (3, INF),
    # "user <username> [password|insecure-password <password>] [groups ...]"
    ("Userlist", "user"): (1, INF),
    # "group <groupname> [users <user>,<user>,(...)]"
    ("Userlist", "group"): (1, 3),
    # "command <command> [arguments*]"
    ("Program", "command"): (1, INF),
    # same as the proxy keywords (see PROXY_ARITY_OVERRIDES)
    ("FcgiApp", "acl"): (2, INF),
    ("FcgiApp", "log-stderr"): (1, INF),
}


def section_keywords(man: Manual) -> list[SimpleKw]:
    out: list[SimpleKw] = []
    for num, section, children in OTHER_SECTIONS:
        lo, hi = man.span(num, include_children=children)
        found: dict[str, SimpleKw] = {}
        arities: dict[str, list[tuple[int, int | None]]] = {}
        for e in man.entries(lo, hi):
            for head, first in zip(e.heads, e.firsts):
                words = heading_words(head)
                if not words or not re.match(r"^[a-z][\w.-]*$", words[0]):
                    continue
                if words[0] == "no":
                    continue  # "no option X": the negation of "option X"
                name, n = derive_name(words)
                if name in SECTION_OPENERS and n == 1:
                    continue  # "userlist <name>" opens the section
                if name not in found:
                    found[name] = SimpleKw(name, (0, INF), collapse(first), section)
                arities.setdefault(name, []).append(synopsis_arity(" ".join(words[n:])))
        for name, kw in found.items():
            exp = SECTION_EXPANSIONS.get((section, name))
            if exp is not None:
                for n2, ar, usage in exp:
                    out.append(SimpleKw(n2, ar, usage, section))
                continue
            ov = SECTION_ARITY_OVERRIDES.get((section, name))
            kw.arity = ov if ov is not None else merge_arity(arities[name])
            out.append(kw)
    return out


# --- bind and server options ---------------------------------------------------

# Option values the synopsis cannot express as a fixed word count.
BIND_VALUE_OVERRIDES: dict[str, int] = {}
SERVER_VALUE_OVERRIDES: dict[str, int] = {
    # "source <addr>[:<pl>[-<ph>]] [usesrc {...}] [interface <name>]": the
    # address is the value; "usesrc ..." and "interface ..." are further
    # options the server-line parser handles itself.
    "source": 1,
}


@dataclass
class Opt:
    name: str
    values: int
    usage: str
    default_server: bool = True
    has_no_form: bool = False


def option_values(arities: list[tuple[int, int | None]]) -> int:
    """Words after a bind/server option: "[ SSLv3 | TLSv1.0 ]" and "{ a | b }"
    are one mandatory word, so take the largest bounded count."""
    lo, hi = merge_arity(arities)
    return hi if hi is not None else lo


def bind_server_options(man: Manual, num: str, overrides: dict[str, int]) -> list[Opt]:
    lo, hi = man.span(num)
    found: dict[str, Opt] = {}
    arities: dict[str, list[tuple[int, int | None]]] = {}
    for e in man.entries(lo, hi):
        no_default = any(re.match(r"^\s*Supported in default-server:\s*No", b) for b in e.body)
        for head, first in zip(e.heads, e.firsts):
            words = heading_words(head)
            if not words or not re.match(r"^[a-z0-9][\w.-]*(\(|$)", words[0]):
                continue
            name = words[0].split("(", 1)[0]
            if name not in found:
                found[name] = Opt(name, 0, collapse(first))
            if no_default:
                found[name].default_server = False
            arities.setdefault(name, []).append(synopsis_arity(" ".join(words[1:])))
    for name, o in found.items():
        o.values = overrides.get(name, option_values(arities[name]))
        o.has_no_form = ("no-" + name) in found
    return list(found.values())


# ---------------------------------------------------------------------------
# Rust output
# ---------------------------------------------------------------------------


def rs_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rs_arity(a: tuple[int, int | None]) -> str:
    lo, hi = a
    if hi is None:
        return f"Arity::at_least({lo})"
    if lo == hi == 0:
        return "Arity::NONE"
    if lo == hi:
        return f"Arity::exactly({lo})"
    return f"Arity::range({lo}, {hi})"


def rs_bool(b: bool) -> str:
    return "true" if b else "false"


def render(proxy, options, globals_, sections, binds, servers, fetch_list, derivs, convs, acts) -> str:
    o: list[str] = []
    o.append("//! Generated by tools/gen-keywords.py from HAProxy 3.2's configuration manual. Do not edit by hand.")
    o.append("use super::*;")
    o.append("")

    def proxy_like(ty: str, var: str, items):
        o.append(f"pub static {var}: &[{ty}] = &[")
        for k in items:
            o.append(
                f"    {ty} {{ name: {rs_str(k.name)}, defaults: InDefaults::{k.defaults}, frontend: {rs_bool(k.frontend)}, "
                f"listen: {rs_bool(k.listen)}, backend: {rs_bool(k.backend)}, negatable: {rs_bool(k.negatable)}, "
                f"deprecated: {rs_bool(k.deprecated)}, arity: {rs_arity(k.arity)}, usage: {rs_str(k.usage)} }},"
            )
        o.append("];")

    proxy_like("ProxyKw", "PROXY_KEYWORDS", proxy)
    proxy_like("OptionKw", "OPTIONS", options)
    o.append("pub static GLOBAL_KEYWORDS: &[GlobalKw] = &[")
    for k in globals_:
        o.append(f"    GlobalKw {{ name: {rs_str(k.name)}, arity: {rs_arity(k.arity)}, usage: {rs_str(k.usage)} }},")
    o.append("];")
    o.append("pub static SECTION_KEYWORDS: &[SectionKw] = &[")
    for k in sections:
        o.append(
            f"    SectionKw {{ section: Section::{k.section}, name: {rs_str(k.name)}, arity: {rs_arity(k.arity)}, usage: {rs_str(k.usage)} }},"
        )
    o.append("];")
    o.append("pub static BIND_OPTIONS: &[BindOpt] = &[")
    for b in binds:
        o.append(f"    BindOpt {{ name: {rs_str(b.name)}, values: {b.values}, usage: {rs_str(b.usage)} }},")
    o.append("];")
    o.append("pub static SERVER_OPTIONS: &[ServerOpt] = &[")
    for s in servers:
        o.append(
            f"    ServerOpt {{ name: {rs_str(s.name)}, values: {s.values}, default_server: {rs_bool(s.default_server)}, "
            f"has_no_form: {rs_bool(s.has_no_form)}, usage: {rs_str(s.usage)} }},"
        )
    o.append("];")
    o.append("pub static FETCHES: &[FetchDef] = &[")
    for f in fetch_list:
        args = ", ".join(f"ArgType::{a}" for a in f.args)
        o.append(
            f"    FetchDef {{ name: {rs_str(f.name)}, args: &[{args}], min_args: {f.min_args}, out: SmpType::{f.out}, "
            f"deprecated: {rs_bool(f.deprecated)}, usage: {rs_str(f.usage)} }},"
        )
    o.append("];")
    o.append("/// ACL-only keywords pairing a fetch with a default match method (the")
    o.append("/// manual's \"ACL derivatives\"): (name, base fetch, match method).")
    o.append("pub static ACL_DERIVATIVES: &[(&str, &str, &str)] = &[")
    for n, b, m in derivs:
        o.append(f"    ({rs_str(n)}, {rs_str(b)}, {rs_str(m)}),")
    o.append("];")
    o.append("pub static CONVERTERS: &[ConvDef] = &[")
    for c in convs:
        args = ", ".join(f"ArgType::{a}" for a in c.args)
        o.append(
            f"    ConvDef {{ name: {rs_str(c.name)}, args: &[{args}], min_args: {c.min_args}, input: SmpType::{c.input}, "
            f"out: SmpType::{c.out}, usage: {rs_str(c.usage)} }},"
        )
    o.append("];")
    o.append("pub static ACTIONS: &[ActionDef] = &[")
    for a in acts:
        c = [rs_bool(x) for x in a.cols]
        o.append(
            f"    ActionDef {{ name: {rs_str(a.name)}, quic_initial: {c[0]}, tcp_request_connection: {c[1]}, "
            f"tcp_request_session: {c[2]}, tcp_request_content: {c[3]}, tcp_response_content: {c[4]}, "
            f"http_request: {c[5]}, http_response: {c[6]}, http_after_response: {c[7]}, usage: {rs_str(a.usage)} }},"
        )
    o.append("];")
    return "\n".join(o) + "\n"


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manual", nargs="?", default=os.path.join(root, "..", "shared", "ref", "haproxy-3.2", "configuration.txt"))
    ap.add_argument("-o", "--output", default=os.path.join(root, "config", "src", "keywords", "tables.rs"))
    ns = ap.parse_args()
    with open(ns.manual, encoding="utf-8") as f:
        man = Manual(f.read())
    proxy, options = proxy_keywords(man)
    globals_ = global_keywords(man)
    fetch_list, derivs = fetches(man)
    convs = converters(man)
    acts = actions(man)
    sections = section_keywords(man)
    binds = bind_server_options(man, "5.1", BIND_VALUE_OVERRIDES)
    servers = bind_server_options(man, "5.2", SERVER_VALUE_OVERRIDES)
    # 5.2: 'all these settings are supported both by "server" and
    # "default-server" keywords, except "id" which is only supported by
    # "server".'
    for o in servers:
        if o.name == "id":
            o.default_server = False
    text = render(proxy, options, globals_, sections, binds, servers, fetch_list, derivs, convs, acts)
    with open(ns.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(
        f"proxy={len(proxy)} options={len(options)} global={len(globals_)} sections={len(sections)} "
        f"bind={len(binds)} server={len(servers)} fetches={len(fetch_list)} derivatives={len(derivs)} "
        f"converters={len(convs)} actions={len(acts)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
