//! ACL and map patterns, compiled once at start-up for the lookups the
//! data path makes (HAProxy's pattern.c): a hash set for exact strings and
//! binaries, a byte trie for prefixes (`beg`), one table per prefix length
//! for IP networks (longest match first), one regex set for `reg`; the
//! methods HAProxy itself scans as lists (`end`, `sub`, `dir`, `dom`,
//! integer ranges) stay lists here, `sub` with a precompiled searcher each.
//!
//! A lookup answers the index of the pattern that matched, so a map finds
//! its value by it: the first pattern in declaration order among those
//! that match, except for `ip`, where the longest network wins, and `beg`,
//! where the longest prefix wins (HAProxy's trees).

use std::collections::HashMap;
use std::net::IpAddr;

use memchr::memmem;
use ringlb_config::acl::{IntRange, IpNet, MatchMethod, Pattern};

/// A sample as a pattern sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Bool(bool),
    Int(i64),
    Ip(IpAddr),
    Str(&'a [u8]),
    Bin(&'a [u8]),
}

/// The compiled patterns of one ACL (or map) for one match method.
#[derive(Debug)]
pub struct Patterns {
    method: MatchMethod,
    icase: bool,
    set: Set,
}

#[derive(Debug)]
enum Set {
    /// `found` and `bool` take no pattern.
    None,
    Ints(Vec<(IntRange, usize)>),
    /// Exact strings or binaries (lower-cased under `-i`), the first index
    /// of each.
    Exact(HashMap<Box<[u8]>, usize>),
    Prefix(Trie),
    List(Vec<(Box<[u8]>, usize)>),
    Sub(Vec<(memmem::Finder<'static>, usize)>),
    Regex(regex::bytes::RegexSet),
    Ip(IpTable),
}

/// Why the patterns could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

impl Patterns {
    /// Compile `patterns` for `method` (`-i`: `icase`). Host-name IP
    /// patterns must have been resolved to networks before.
    pub fn compile(
        method: MatchMethod,
        icase: bool,
        patterns: &[Pattern],
    ) -> Result<Patterns, CompileError> {
        let bytes = |p: &Pattern| -> Result<Box<[u8]>, CompileError> {
            let b: &[u8] = match p {
                Pattern::Str(s) => s.as_bytes(),
                Pattern::Bin(b) => b,
                other => return Err(CompileError(format!("{other:?} is not a string pattern"))),
            };
            Ok(if icase {
                b.to_ascii_lowercase().into_boxed_slice()
            } else {
                b.into()
            })
        };
        let set = match method {
            MatchMethod::Found | MatchMethod::Bool => Set::None,
            MatchMethod::Int | MatchMethod::Len => Set::Ints(
                patterns
                    .iter()
                    .enumerate()
                    .map(|(i, p)| match p {
                        Pattern::Int(r) => Ok((*r, i)),
                        other => Err(CompileError(format!("{other:?} is not an integer range"))),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            MatchMethod::Str | MatchMethod::Bin => {
                let mut m = HashMap::with_capacity(patterns.len());
                for (i, p) in patterns.iter().enumerate() {
                    m.entry(bytes(p)?).or_insert(i);
                }
                Set::Exact(m)
            }
            MatchMethod::Beg => {
                let mut t = Trie::default();
                for (i, p) in patterns.iter().enumerate() {
                    t.insert(&bytes(p)?, i);
                }
                Set::Prefix(t)
            }
            MatchMethod::End | MatchMethod::Dir | MatchMethod::Dom => Set::List(
                patterns
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Ok((bytes(p)?, i)))
                    .collect::<Result<_, CompileError>>()?,
            ),
            MatchMethod::Sub => Set::Sub(
                patterns
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Ok((memmem::Finder::new(&bytes(p)?).into_owned(), i)))
                    .collect::<Result<_, CompileError>>()?,
            ),
            MatchMethod::Reg => {
                let res: Vec<&str> = patterns
                    .iter()
                    .map(|p| match p {
                        Pattern::Regex(r) => Ok(r.as_str()),
                        other => Err(CompileError(format!("{other:?} is not a regex"))),
                    })
                    .collect::<Result<_, _>>()?;
                Set::Regex(
                    regex::bytes::RegexSetBuilder::new(res)
                        .case_insensitive(icase)
                        .unicode(false)
                        .build()
                        .map_err(|e| CompileError(e.to_string()))?,
                )
            }
            MatchMethod::Ip => {
                let mut t = IpTable::default();
                for (i, p) in patterns.iter().enumerate() {
                    match p {
                        Pattern::Ip(net) => t.insert(*net, i),
                        other => {
                            return Err(CompileError(format!(
                                "{other:?} is not a resolved IP network"
                            )))
                        }
                    }
                }
                Set::Ip(t)
            }
        };
        Ok(Patterns { method, icase, set })
    }

    /// The index of the pattern `v` matches, if any (see the module for
    /// which one when several do).
    pub fn lookup(&self, v: Value<'_>) -> Option<usize> {
        match (&self.set, v) {
            (Set::None, Value::Bool(b)) => b.then_some(0),
            (Set::None, Value::Int(n)) => {
                (self.method == MatchMethod::Found || n != 0).then_some(0)
            }
            (Set::None, _) => (self.method == MatchMethod::Found).then_some(0),
            (Set::Ints(rs), v) => {
                let n = match (self.method, v) {
                    (MatchMethod::Len, Value::Str(s) | Value::Bin(s)) => {
                        i64::try_from(s.len()).unwrap_or(i64::MAX)
                    }
                    (_, Value::Int(n)) => n,
                    (_, Value::Bool(b)) => i64::from(b),
                    _ => return None,
                };
                rs.iter().find(|(r, _)| r.contains(n)).map(|(_, i)| *i)
            }
            (Set::Ip(t), Value::Ip(ip)) => t.lookup(ip),
            (Set::Ip(_), _) => None,
            (_, Value::Str(s) | Value::Bin(s)) => self.lookup_bytes(s),
            _ => None,
        }
    }

    fn lookup_bytes(&self, s: &[u8]) -> Option<usize> {
        // Under -i the sample is folded on the stack when it is short (the
        // usual case: no allocation per lookup).
        let mut small = [0u8; 256];
        let heap;
        let key: &[u8] = if !self.icase {
            s
        } else if let Some(buf) = small.get_mut(..s.len()) {
            buf.copy_from_slice(s);
            buf.make_ascii_lowercase();
            buf
        } else {
            heap = s.to_ascii_lowercase();
            &heap
        };
        match &self.set {
            Set::Exact(m) => m.get(key).copied(),
            Set::Prefix(t) => t.longest_prefix(key),
            Set::List(l) => l
                .iter()
                .find(|(p, _)| match self.method {
                    MatchMethod::End => key.ends_with(p),
                    MatchMethod::Dir => match_word(key, p, b'/'),
                    MatchMethod::Dom => match_word(key, p, b'.'),
                    _ => false,
                })
                .map(|(_, i)| *i),
            Set::Sub(l) => l
                .iter()
                .find(|(f, _)| f.find(key).is_some())
                .map(|(_, i)| *i),
            Set::Regex(r) => r.matches(s).iter().next(),
            _ => None,
        }
    }

    pub fn matches(&self, v: Value<'_>) -> bool {
        self.lookup(v).is_some()
    }
}

/// HAProxy's `match_word`: `pattern` (delimiters around it ignored)
/// appears in `s` as whole words, bounded by the delimiter (`dir`: `/`,
/// `dom`: `.`) or the string's ends.
fn match_word(s: &[u8], pattern: &[u8], delim: u8) -> bool {
    let p = trim_delims(pattern, delim);
    if p.len() > s.len() {
        return false;
    }
    let last = s.len() - p.len();
    let mut may_match = true;
    for (i, c) in s.iter().enumerate().take(last + 1) {
        if *c == delim {
            may_match = true;
            continue;
        }
        if !may_match {
            continue;
        }
        if s.get(i..i + p.len()) == Some(p) && (i == last || s.get(i + p.len()) == Some(&delim)) {
            return true;
        }
        may_match = false;
    }
    false
}

fn trim_delims(p: &[u8], d: u8) -> &[u8] {
    let start = p.iter().position(|c| *c != d).unwrap_or(p.len());
    let end = p.iter().rposition(|c| *c != d).map_or(start, |e| e + 1);
    p.get(start..end).unwrap_or_default()
}

/// A byte trie of prefixes: the longest one a string starts with.
#[derive(Debug, Default)]
struct Trie {
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Default)]
struct TrieNode {
    /// Sorted by byte.
    children: Vec<(u8, usize)>,
    /// The first pattern ending here.
    pattern: Option<usize>,
}

impl Trie {
    fn insert(&mut self, key: &[u8], index: usize) {
        if self.nodes.is_empty() {
            self.nodes.push(TrieNode::default());
        }
        let mut at = 0;
        for b in key {
            let next = self.nodes.len();
            let Some(node) = self.nodes.get_mut(at) else {
                return;
            };
            at = match node.children.binary_search_by_key(b, |(c, _)| *c) {
                Ok(k) => node.children.get(k).map_or(0, |(_, n)| *n),
                Err(k) => {
                    node.children.insert(k, (*b, next));
                    self.nodes.push(TrieNode::default());
                    next
                }
            };
        }
        if let Some(node) = self.nodes.get_mut(at) {
            node.pattern.get_or_insert(index);
        }
    }

    fn longest_prefix(&self, key: &[u8]) -> Option<usize> {
        let mut node = self.nodes.first()?;
        let mut best = node.pattern;
        for b in key {
            let Ok(k) = node.children.binary_search_by_key(b, |(c, _)| *c) else {
                break;
            };
            node = node.children.get(k).and_then(|(_, n)| self.nodes.get(*n))?;
            best = node.pattern.or(best);
        }
        best
    }
}

/// IP networks: for each prefix length in use, the networks of that
/// length, looked up from the longest length down. Non-contiguous IPv4
/// masks (`255.0.255.0`) are scanned as a list, as HAProxy does.
#[derive(Debug, Default)]
struct IpTable {
    /// (prefix length, network -> first index), longest first.
    v4: Vec<(u32, HashMap<u32, usize>)>,
    v4_odd: Vec<(u32, u32, usize)>,
    v6: Vec<(u32, HashMap<u128, usize>)>,
}

fn v4_prefix(mask: u32) -> Option<u32> {
    let len = mask.leading_ones();
    (mask.checked_shl(len).unwrap_or(0) == 0).then_some(len)
}

fn mask128(len: u32) -> u128 {
    u128::MAX.checked_shl(128 - len).unwrap_or(0)
}

fn mask32(len: u32) -> u32 {
    u32::MAX.checked_shl(32 - len).unwrap_or(0)
}

fn insert_len<K: std::hash::Hash + Eq>(
    t: &mut Vec<(u32, HashMap<K, usize>)>,
    len: u32,
    k: K,
    i: usize,
) {
    let at = match t.binary_search_by(|(l, _)| len.cmp(l)) {
        Ok(at) => at,
        Err(at) => {
            t.insert(at, (len, HashMap::new()));
            at
        }
    };
    if let Some((_, m)) = t.get_mut(at) {
        m.entry(k).or_insert(i);
    }
}

impl IpTable {
    fn insert(&mut self, net: IpNet, i: usize) {
        match net {
            IpNet::V4 { addr, mask } => {
                let (a, m) = (u32::from(addr), u32::from(mask));
                match v4_prefix(m) {
                    Some(len) => insert_len(&mut self.v4, len, a & m, i),
                    None => self.v4_odd.push((a & m, m, i)),
                }
            }
            IpNet::V6 { addr, prefix } => {
                let len = u32::from(prefix.min(128));
                insert_len(&mut self.v6, len, u128::from(addr) & mask128(len), i);
            }
        }
    }

    fn lookup(&self, ip: IpAddr) -> Option<usize> {
        match ip {
            // Then as an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
            IpAddr::V4(a) => self
                .lookup_v4(u32::from(a))
                .or_else(|| self.lookup_v6(u128::from(a.to_ipv6_mapped()))),
            // A mapped or compatible IPv4 address also matches the IPv4
            // networks (HAProxy's v6tov4 fallback).
            IpAddr::V6(a) => self
                .lookup_v6(u128::from(a))
                .or_else(|| self.lookup_v4(u32::from(a.to_ipv4()?))),
        }
    }

    fn lookup_v4(&self, a: u32) -> Option<usize> {
        self.v4
            .iter()
            .find_map(|(len, m)| m.get(&(a & mask32(*len))).copied())
            .or_else(|| {
                self.v4_odd
                    .iter()
                    .find(|(n, m, _)| a & m == *n)
                    .map(|(_, _, i)| *i)
            })
    }

    fn lookup_v6(&self, a: u128) -> Option<usize> {
        self.v6
            .iter()
            .find_map(|(len, m)| m.get(&(a & mask128(*len))).copied())
    }
}

#[cfg(test)]
mod tests;
