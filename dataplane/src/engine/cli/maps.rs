//! `show|get|add|del|set|clear|prepare|commit map|acl` (management.txt
//! 9.3, haproxy 2.6's map.c answers): the pattern references of
//! `engine::rules::patref`. A change to a reference's current version is
//! compiled once here and sent to every core (`Ask::PatRef`); the answer
//! waits until every core has taken it, so traffic after the answer sees
//! the change.

use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

use ringlb_config::acl::MatchMethod;
use ringlb_config::keywords::SmpType;

use super::table::{Ctx, Later};
use super::{Ask, Reply, Static, ASK_WITHIN};
use crate::engine::rules::patref::{self, Compiled, PatRef, UseKind};
use crate::engine::rules::pattern::Value;
use crate::engine::runtime::Core;

const UNKNOWN_MAP: &str = "Unknown map identifier. Please use #<id> or <file>.\n";
const UNKNOWN_ACL: &str = "Unknown ACL identifier. Please use #<id> or <file>.\n";
const MALFORMED: &str = "Malformed identifier. Please use #<id> or <file>.\n";

fn unknown(acl: bool) -> Reply {
    Reply::err(if acl { UNKNOWN_ACL } else { UNKNOWN_MAP })
}

/// The reference is listed by `show map` (maps) / `show acl` (ACLs).
fn listed(r: &PatRef, acl: bool) -> bool {
    if acl {
        r.acl
    } else {
        r.map
    }
}

/// `show map|acl [[@<ver>] <ref>]`.
pub fn show(c: &mut Ctx<'_>) -> Reply {
    let acl = c.arg(1) == "acl";
    let mut reg = patref::registry();
    let mut i = 2;
    if c.arg(i).is_empty() {
        let mut out = String::from("# id (file) description\n");
        for r in reg.refs.iter().filter(|r| listed(r, acl)) {
            let _ = writeln!(
                out,
                "{} ({}) {}. curr_ver={} next_ver={} entry_cnt={}",
                r.id,
                r.name,
                r.description(),
                r.curr_ver,
                r.next_ver,
                r.entries.len()
            );
        }
        return Reply::Out(out);
    }
    let ver = c.arg(i).strip_prefix('@').map(str2uic);
    if ver.is_some() {
        i += 1;
    }
    let Some(r) = reg.find(c.arg(i)).filter(|r| listed(r, acl)) else {
        return unknown(acl);
    };
    let ver = ver.unwrap_or(r.curr_ver);
    let mut out = String::new();
    for e in r.version(ver) {
        match &e.value {
            Some(v) => {
                let _ = writeln!(out, "{:#x} {} {v}", e.id, e.key);
            }
            None => {
                let _ = writeln!(out, "{:#x} {}", e.id, e.key);
            }
        }
    }
    Reply::Out(out)
}

/// HAProxy's str2uic: the leading digits, 0 without.
fn str2uic(s: &str) -> u32 {
    s.bytes().take_while(u8::is_ascii_digit).fold(0u32, |n, d| {
        n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
    })
}

fn method_name(m: MatchMethod) -> &'static str {
    MatchMethod::ALL
        .iter()
        .find(|(_, x)| *x == m)
        .map_or("unknown", |(n, _)| n)
}

/// `get map|acl <ref> <value>`: one line per expression reading the
/// reference, as cli_io_handler_map_lookup writes it.
pub fn get(c: &mut Ctx<'_>) -> Reply {
    let acl = c.arg(1) == "acl";
    if c.arg(2).is_empty() || c.arg(3).is_empty() {
        return Reply::err(if acl {
            "Missing ACL identifier and/or key.\n"
        } else {
            "Missing map identifier and/or key.\n"
        });
    }
    let mut reg = patref::registry();
    let Some(r) = reg.find(c.arg(2)) else {
        return unknown(acl);
    };
    let entries: Vec<&patref::Entry> = r.version(r.curr_ver).collect();
    let key = c.arg(3);
    let mut out = String::new();
    // One line per expression: users of one method and kind share
    // theirs, as HAProxy shares a pattern expression.
    let mut seen: Vec<(MatchMethod, UseKind)> = Vec::new();
    for (method, kind, set) in patref::users(r) {
        if seen.contains(&(method, kind)) {
            continue;
        }
        let Some(set) = set else { continue };
        seen.push((method, kind));
        let icase = matches!(kind, UseKind::Acl { icase: true });
        let ip;
        let value = match method.sample_type() {
            SmpType::Addr => match key.parse::<std::net::IpAddr>() {
                Ok(a) => {
                    ip = a;
                    Some(Value::Ip(ip))
                }
                Err(_) => None,
            },
            SmpType::Int => key.parse::<i64>().ok().map(Value::Int),
            _ => Some(Value::Str(key.as_bytes())),
        };
        let found = value.and_then(|v| match set {
            Compiled::Map(m) => m.find(v),
            Compiled::Acl(p) => p.lookup(v),
        });
        let _ = write!(
            out,
            "type={}, case={}",
            method_name(method),
            if icase { "insensitive" } else { "sensitive" }
        );
        let word = if acl { "match" } else { "found" };
        match found.and_then(|i| entries.get(i)) {
            None => {
                let _ = write!(out, ", {word}=no");
            }
            Some(e) => {
                let tree = matches!(method, MatchMethod::Ip | MatchMethod::Beg)
                    || method == MatchMethod::Str && !icase;
                let _ = write!(
                    out,
                    ", {word}=yes, idx={}",
                    if tree { "tree" } else { "list" }
                );
                if acl {
                    let _ = write!(out, ", pattern=\"{}\"", e.key);
                } else {
                    let _ = write!(out, ", key=\"{}\"", e.key);
                    match (&e.value, kind) {
                        (Some(v), UseKind::Map(t)) => {
                            let t = match t {
                                SmpType::Int => "sint",
                                SmpType::Addr if v.contains(':') => "ipv6",
                                SmpType::Addr => "ipv4",
                                _ => "str",
                            };
                            let _ = write!(out, ", value=\"{v}\", type=\"{t}\"");
                        }
                        _ => out.push_str(", value=none"),
                    }
                }
            }
        }
        out.push('\n');
    }
    Reply::Out(out)
}

/// The reference (`#<id>`) whose current version changed: to compile
/// again for every core.
type Sets = Option<String>;

/// `r`'s current version changed.
#[allow(clippy::unnecessary_wraps)]
fn recompile(r: &PatRef) -> Result<Sets, Reply> {
    Ok(Some(format!("#{}", r.id)))
}

/// `key` is a valid pattern for every expression reading `r`.
fn check_key(r: &PatRef, key: &str) -> Result<(), Reply> {
    for (method, _, _) in patref::users(r) {
        if let Err(e) = ringlb_config::acl::parse_file_pattern(method, key, true) {
            return Err(Reply::err(format!("{e}.\n")));
        }
    }
    Ok(())
}

/// An entry id written `#0x...`: Some(Ok(id)), Some(Err) when malformed,
/// None when the word is a key.
fn entry_ref(word: &str) -> Option<Result<u64, Reply>> {
    let hex = word.strip_prefix("#0x")?;
    Some(u64::from_str_radix(hex, 16).map_err(|_| Reply::err(MALFORMED)))
}

/// The changes: the registry is changed at once (under its lock, which
/// no lookup takes), then the new sets go to every core.
pub fn change(core: Rc<Core>, _: Rc<Static>, args: Vec<String>, payload: Option<String>) -> Later {
    Box::pin(async move {
        let (reply, changed) = match apply(&args, payload.as_deref()) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let Some(job) = changed.and_then(|ident| patref::registry().job(&ident)) else {
            return reply;
        };
        // Compiled on a thread of its own: a large map stops no core.
        let (tx, rx) = flume::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("ringlb-patref".into())
            .spawn(move || {
                let _ = tx.send(job.run());
            });
        if spawned.is_err() {
            return Reply::err("Out of memory error.\n");
        }
        let sets = match rx.recv_async().await {
            Ok(Ok(sets)) => Arc::new(sets),
            Ok(Err(e)) => return Reply::err(format!("{}.\n", e.0)),
            Err(_) => return Reply::err("Failed to update an entry.\n"),
        };
        patref::registry().keep(&sets);
        let asked = core.shared.mesh.ask_all(|tx| {
            crate::engine::runtime::mesh::Msg::Cli(Ask::PatRef(Arc::clone(&sets), tx))
        });
        let _ = asked.wait(&core.timers, ASK_WITHIN).await;
        reply
    })
}

fn apply(args: &[String], payload: Option<&str>) -> Result<(Reply, Sets), Reply> {
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    let acl = arg(1) == "acl";
    let mut reg = patref::registry();
    match arg(0) {
        "prepare" => {
            let r = reg
                .find(arg(2))
                .filter(|r| listed(r, acl))
                .ok_or_else(|| unknown(acl))?;
            r.next_ver = r.next_ver.wrapping_add(1);
            Ok((
                Reply::info(format!("New version created: {}\n", r.next_ver)),
                None,
            ))
        }
        "commit" => {
            let Some(ver) = arg(2).strip_prefix('@').map(str2uic) else {
                return Err(Reply::err("Missing version number.\n"));
            };
            if arg(3).is_empty() {
                return Err(Reply::err(if acl {
                    "Missing ACL identifier.\n"
                } else {
                    "Missing map identifier.\n"
                }));
            }
            let r = reg
                .find(arg(3))
                .filter(|r| listed(r, acl))
                .ok_or_else(|| unknown(acl))?;
            if ver.wrapping_sub(r.curr_ver.wrapping_add(1)) >= r.next_ver.wrapping_sub(r.curr_ver) {
                return Err(Reply::err("Version number out of range.\n"));
            }
            // The committed version becomes current; older ones go.
            r.curr_ver = ver;
            r.entries
                .retain(|e| i32::from_ne_bytes(ver.wrapping_sub(e.ver).to_ne_bytes()) <= 0);
            Ok((Reply::Empty, recompile(r)?))
        }
        "clear" => {
            let (ver, i) = match arg(2).strip_prefix('@') {
                Some(v) => (Some(str2uic(v)), 3),
                None => (None, 2),
            };
            if arg(i).is_empty() {
                return Err(Reply::err(if acl {
                    "Missing ACL identifier.\n"
                } else {
                    "Missing map identifier.\n"
                }));
            }
            let r = reg
                .find(arg(i))
                .filter(|r| listed(r, acl))
                .ok_or_else(|| unknown(acl))?;
            let ver = ver.unwrap_or(r.curr_ver);
            r.entries.retain(|e| e.ver != ver);
            let sets = if ver == r.curr_ver {
                recompile(r)?
            } else {
                None
            };
            Ok((Reply::Empty, sets))
        }
        "del" => {
            if arg(2).is_empty() || arg(3).is_empty() {
                return Err(Reply::err(if acl {
                    "This command expects two parameters: ACL identifier and key.\n"
                } else {
                    "This command expects two parameters: map identifier and key.\n"
                }));
            }
            // haproxy 2.6 answers the map's words for an ACL here too.
            let r = reg
                .find(arg(2))
                .filter(|r| listed(r, acl))
                .ok_or_else(|| Reply::err(UNKNOWN_MAP))?;
            let curr = r.curr_ver;
            let before = r.entries.len();
            let mut touched = false;
            match entry_ref(arg(3)) {
                Some(id) => {
                    let id = id?;
                    r.entries.retain(|e| {
                        let gone = e.id == id;
                        touched |= gone && e.ver == curr;
                        !gone
                    });
                }
                None => {
                    let key = arg(3);
                    r.entries.retain(|e| {
                        let gone = e.key == key;
                        touched |= gone && e.ver == curr;
                        !gone
                    });
                }
            }
            if r.entries.len() == before {
                return Err(Reply::err("Key not found.\n"));
            }
            Ok((Reply::Empty, if touched { recompile(r)? } else { None }))
        }
        "set" => {
            if arg(2).is_empty() || arg(3).is_empty() || arg(4).is_empty() {
                return Err(Reply::err(
                    "'set map' expects three parameters: map identifier, key and value.\n",
                ));
            }
            let r = reg.find(arg(2)).ok_or_else(|| Reply::err(UNKNOWN_MAP))?;
            let curr = r.curr_ver;
            let value = arg(4).to_string();
            let mut found = false;
            let mut touched = false;
            let by_id = match entry_ref(arg(3)) {
                Some(id) => Some(id?),
                None => None,
            };
            for e in &mut r.entries {
                let hit = match by_id {
                    Some(id) => e.id == id,
                    None => e.key == arg(3),
                };
                if hit {
                    found = true;
                    touched |= e.ver == curr;
                    e.value = Some(value.clone());
                }
            }
            if !found {
                return Err(Reply::err(if by_id.is_some() {
                    "key or pattern not found.\n"
                } else {
                    "entry not found.\n"
                }));
            }
            Ok((Reply::Empty, if touched { recompile(r)? } else { None }))
        }
        "add" => {
            let (ver, i) = match arg(2).strip_prefix('@') {
                Some(v) => (Some(str2uic(v)), 3),
                None => (None, 2),
            };
            if !acl {
                if (payload.is_none()
                    && (arg(i).is_empty() || arg(i + 1).is_empty() || arg(i + 2).is_empty()))
                    || (payload.is_some() && arg(i).is_empty())
                {
                    return Err(Reply::err("'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n"));
                }
            } else if arg(i).is_empty() || arg(i + 1).is_empty() {
                return Err(Reply::err(
                    "'add acl' expects two parameters: ACL identifier and pattern.\n",
                ));
            }
            let mut ids = Vec::new();
            let r = reg.find(arg(i)).ok_or_else(|| unknown(acl))?;
            if let Some(v) = ver {
                if i32::from_ne_bytes(v.wrapping_sub(r.next_ver).to_ne_bytes()) > 0 {
                    return Err(Reply::err(if acl {
                        "Version number in the future, please use 'prepare acl' before.\n"
                    } else {
                        "Version number in the future, please use 'prepare map' before.\n"
                    }));
                }
            }
            if acl && r.samples {
                return Err(Reply::err("This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n"));
            }
            let ver = ver.unwrap_or(r.curr_ver);
            // The entries to add: the words, or one per payload line.
            let mut new: Vec<(String, Option<String>)> = Vec::new();
            match payload {
                Some(p) => {
                    for line in p.split('\n').filter(|l| !l.is_empty()) {
                        let key_end = line.find([' ', '\t']).unwrap_or(line.len());
                        let (key, rest) = line.split_at(key_end);
                        if rest.is_empty() && !acl {
                            return Err(Reply::err(format!("Missing value for key '{key}'.\n")));
                        }
                        let value = rest.get(1..).unwrap_or("").trim_start_matches([' ', '\t']);
                        new.push((key.to_string(), (!acl).then(|| value.to_string())));
                    }
                }
                None => new.push((
                    arg(i + 1).to_string(),
                    (!acl).then(|| arg(i + 2).to_string()),
                )),
            }
            for (key, _) in &new {
                check_key(r, key)?;
            }
            let _ = r;
            for _ in &new {
                ids.push(reg.entry_id());
            }
            let r = reg.find(arg(i)).ok_or_else(|| unknown(acl))?;
            for ((key, value), id) in new.into_iter().zip(ids) {
                r.entries.push(patref::Entry {
                    id,
                    ver,
                    key,
                    value,
                });
            }
            let sets = if ver == r.curr_ver {
                recompile(r)?
            } else {
                None
            };
            Ok((Reply::Empty, sets))
        }
        _ => Err(super::table::usage(args)),
    }
}
