//! Pattern references (HAProxy's pat_ref): the pattern files the `map*`
//! converters and the ACLs' `-f` read, as lists of entries the runtime
//! API changes (`add|del|set|clear|prepare|commit map|acl`), with
//! versions.
//!
//! Design (no lock on the data path): a map or an ACL file compiled at
//! start-up is one "user" of its reference, with a slot number. Its
//! start-up contents stay in the compiled rules. When the runtime API
//! changes the current version of a reference, it compiles every user
//! again once (on the CLI's core), and sends the compiled sets to every
//! core through the mesh; each core keeps them in a thread-local table
//! indexed by slot (`CURRENT`), and the CLI answers once every core has
//! taken them. (The compilation runs on a thread of its own, so a large
//! map stops no core; each change has a number and a core keeps the
//! newest.) A lookup reads the thread-local table (a TLS access, a
//! `RefCell` flag and a bounds check: no atomic, no shared cache line)
//! and falls back to the start-up set while the slot was never changed.
//! `cargo bench --bench rules -- map_lookup`: a 1,000-entry map's lookup
//! costs the same through the table as on its set alone, within the
//! noise of a shared machine (133-150 ns both, the hash and the value's
//! copy dominate).
//!
//! The entries themselves (text, versions, ids) live in [`REGISTRY`],
//! touched at start-up while the rules compile and by the CLI's commands,
//! never by a lookup.

use std::cell::RefCell;
use std::sync::Arc;

use ringlb_config::acl::{parse_file_pattern, MatchMethod};
use ringlb_config::keywords::SmpType;

use super::map::MapData;
use super::pattern::{CompileError, Patterns};

/// One compiled user of a reference, as a core keeps it.
#[derive(Debug, Clone)]
pub enum Compiled {
    Map(Arc<MapData>),
    Acl(Arc<Patterns>),
}

/// A key and, in a map, its value.
pub type KeyValue = (String, Option<String>);

/// One entry of a reference.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Unique in the process: what `show map` prints as `0x...` and
    /// `del map <m> #0x...` names.
    pub id: u64,
    pub ver: u32,
    pub key: String,
    /// A map's value; None in an ACL file.
    pub value: Option<String>,
}

/// How a compiled user reads the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseKind {
    /// A `map*` converter, with its output type.
    Map(SmpType),
    /// An ACL's `-f` (`-i`: `icase`).
    Acl { icase: bool },
}

#[derive(Debug, Clone)]
struct User {
    slot: usize,
    method: MatchMethod,
    kind: UseKind,
    /// Its latest compiled set (`get map|acl` looks it up) and the change
    /// that made it (0: start-up).
    current: Option<Compiled>,
    seq: u64,
}

/// A pattern reference.
#[derive(Debug)]
pub struct PatRef {
    /// HAProxy's unique id (`#<id>`), in order of first use.
    pub id: u32,
    /// The file name as the configuration gives it.
    pub name: String,
    /// Read by a `map*` converter / by an ACL.
    pub map: bool,
    pub acl: bool,
    /// Its entries carry values (HAProxy's PAT_REF_SMP): `add acl` is
    /// refused.
    pub samples: bool,
    pub curr_ver: u32,
    pub next_ver: u32,
    pub entries: Vec<Entry>,
    users: Vec<User>,
}

impl PatRef {
    /// The description `show map` / `show acl` print.
    pub fn description(&self) -> String {
        let by = match (self.map, self.acl) {
            (true, true) => "map and acl",
            (true, false) => "map",
            _ => "acl",
        };
        format!("pattern loaded from file '{}' used by {by}", self.name)
    }

    /// The entries of version `ver`, in order.
    pub fn version(&self, ver: u32) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.ver == ver)
    }
}

/// Every reference of the process.
#[derive(Debug)]
pub struct Registry {
    pub refs: Vec<PatRef>,
    next_slot: usize,
    next_entry: u64,
    /// The last change's number: a core takes a set only from a change
    /// newer than its set's (two changes compiled at once may end in
    /// either order).
    next_seq: u64,
}

impl Registry {
    const fn new() -> Registry {
        Registry {
            refs: Vec::new(),
            next_slot: 0,
            next_entry: 1,
            next_seq: 0,
        }
    }

    /// The reference `ident` names: `#<id>` or its file name.
    pub fn find(&mut self, ident: &str) -> Option<&mut PatRef> {
        match ident.strip_prefix('#') {
            Some(n) => {
                let id = n.parse::<u32>().ok()?;
                self.refs.iter_mut().find(|r| r.id == id)
            }
            None => self.refs.iter_mut().find(|r| r.name == ident),
        }
    }

    /// A new entry id.
    pub fn entry_id(&mut self) -> u64 {
        let id = self.next_entry;
        self.next_entry += 1;
        id
    }
}

/// See the module. A lock, but never on the data path: the rules take it
/// while they compile (start-up) and the CLI's commands while they run
/// (rule zero: the clippy ban on std Mutex is about the data path).
#[allow(clippy::disallowed_types)]
pub static REGISTRY: std::sync::Mutex<Registry> = std::sync::Mutex::new(Registry::new());

/// The registry, even if a thread panicked while holding it (its data
/// stays consistent: every change is made in place, entry by entry).
pub fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

thread_local! {
    /// This core's sets changed at run time, by slot.
    static CURRENT: RefCell<Vec<Option<(u64, Compiled)>>> = const { RefCell::new(Vec::new()) };
}

/// Register a user of the reference `name` (start-up). `read` gives the
/// file's entries (key, value) when the reference is new; a reference
/// already read by another user is shared, as HAProxy shares it. Returns
/// the user's slot and the reference's current entries.
pub fn register(
    name: &str,
    method: MatchMethod,
    kind: UseKind,
    read: impl FnOnce() -> Result<Vec<KeyValue>, CompileError>,
) -> Result<(usize, Vec<KeyValue>), CompileError> {
    let mut reg = registry();
    let slot = reg.next_slot;
    let is_map = matches!(kind, UseKind::Map(_));
    if !reg.refs.iter().any(|r| r.name == name) {
        let entries = read()?;
        let samples = entries.iter().any(|e| e.1.is_some());
        let id = reg.refs.iter().map(|r| r.id + 1).max().unwrap_or(0);
        let mut list = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let id = reg.entry_id();
            list.push(Entry {
                id,
                ver: 0,
                key,
                value,
            });
        }
        reg.refs.push(PatRef {
            id,
            name: name.to_string(),
            map: false,
            acl: false,
            samples,
            curr_ver: 0,
            next_ver: 0,
            entries: list,
            users: Vec::new(),
        });
    }
    reg.next_slot += 1;
    let Some(r) = reg.refs.iter_mut().find(|r| r.name == name) else {
        return Err(CompileError(format!("pattern file '{name}' lost")));
    };
    if is_map {
        r.map = true;
        r.samples = true;
    } else {
        r.acl = true;
    }
    r.users.push(User {
        slot,
        method,
        kind,
        current: None,
        seq: 0,
    });
    let cur = r
        .version(r.curr_ver)
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    Ok((slot, cur))
}

/// The keys and values of a pattern file as HAProxy reads it
/// (`pat_ref_read_from_file_smp`): blanks before the key skipped, `#`
/// lines and empty lines ignored, the key up to the first blank, the
/// value (maps) after the blanks that follow, to the end of the line.
pub fn read_lines(text: &str, with_values: bool) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches([' ', '\t']);
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !with_values {
            // An ACL file: the rest of the line is the pattern, trailing
            // blanks included (HAProxy's pat_ref_read_from_file: haproxy
            // 2.6 refuses `127.0.0.1 ` as an address).
            out.push((line.to_string(), None));
            continue;
        }
        let key_end = line.find([' ', '\t']).unwrap_or(line.len());
        let (key, rest) = line.split_at(key_end);
        let value = rest.trim_start_matches([' ', '\t']);
        out.push((key.to_string(), Some(value.to_string())));
    }
    out
}

/// Compile an ACL file's patterns (`-i`: `icase`).
pub fn compile_acl(
    method: MatchMethod,
    icase: bool,
    keys: &[(String, Option<String>)],
) -> Result<Patterns, CompileError> {
    let mut pats = Vec::with_capacity(keys.len());
    for (k, _) in keys {
        if let Some(p) = parse_file_pattern(method, k, true).map_err(CompileError)? {
            pats.push(p);
        }
    }
    Patterns::compile(method, icase, &pats)
}

/// A user's start-up set, kept for `get map|acl` (start-up).
pub fn set_initial(slot: usize, set: Compiled) {
    let mut reg = registry();
    if let Some(u) = reg
        .refs
        .iter_mut()
        .flat_map(|r| r.users.iter_mut())
        .find(|u| u.slot == slot)
    {
        u.current = Some(set);
    }
}

/// What a change of a reference's current version must compile: taken
/// under the registry's lock, compiled away from the cores ([`Job::run`]).
#[derive(Debug)]
pub struct Job {
    pub seq: u64,
    users: Vec<User>,
    entries: Vec<KeyValue>,
}

/// The sets of one change, by slot, with the change's number.
#[derive(Debug, Clone)]
pub struct Sets {
    pub seq: u64,
    pub sets: Vec<(usize, Compiled)>,
}

impl Registry {
    /// The job that recompiles `r`'s users for its current version.
    pub fn job(&mut self, ident: &str) -> Option<Job> {
        self.next_seq += 1;
        let seq = self.next_seq;
        let r = self.find(ident)?;
        Some(Job {
            seq,
            users: r.users.clone(),
            entries: r
                .version(r.curr_ver)
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect(),
        })
    }

    /// Keep the sets of a change for `get`, unless a newer one came first.
    pub fn keep(&mut self, sets: &Sets) {
        for (slot, set) in &sets.sets {
            if let Some(u) = self
                .refs
                .iter_mut()
                .flat_map(|r| r.users.iter_mut())
                .find(|u| u.slot == *slot && u.seq < sets.seq)
            {
                u.current = Some(set.clone());
                u.seq = sets.seq;
            }
        }
    }
}

impl Job {
    /// Compile every user's set (a thread of its own: a large map takes
    /// a while, and no core should stop for it).
    pub fn run(self) -> Result<Sets, CompileError> {
        let entries = &self.entries;
        let sets = self
            .users
            .iter()
            .map(|u| {
                Ok((
                    u.slot,
                    match u.kind {
                        UseKind::Map(_) => {
                            Compiled::Map(Arc::new(MapData::compile(entries, u.method)?))
                        }
                        UseKind::Acl { icase } => {
                            Compiled::Acl(Arc::new(compile_acl(u.method, icase, entries)?))
                        }
                    },
                ))
            })
            .collect::<Result<_, CompileError>>()?;
        Ok(Sets {
            seq: self.seq,
            sets,
        })
    }
}

/// One user's view for `get map|acl`: its method, kind and latest set.
pub fn users(r: &PatRef) -> impl Iterator<Item = (MatchMethod, UseKind, Option<&Compiled>)> + '_ {
    r.users
        .iter()
        .map(|u| (u.method, u.kind, u.current.as_ref()))
}

/// Take the sets of a change (on each core, from the mesh), unless this
/// core already has a newer change's.
pub fn apply(sets: &Sets) {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        for (slot, set) in &sets.sets {
            if c.len() <= *slot {
                c.resize(*slot + 1, None);
            }
            if let Some(x) = c.get_mut(*slot) {
                if x.as_ref().is_none_or(|(seq, _)| *seq < sets.seq) {
                    *x = Some((sets.seq, set.clone()));
                }
            }
        }
    });
}

/// Run `f` on a map user's current set: this core's, or `initial`.
pub fn with_map<R>(slot: usize, initial: &MapData, f: impl FnOnce(&MapData) -> R) -> R {
    CURRENT.with(|c| match c.borrow().get(slot) {
        Some(Some((_, Compiled::Map(m)))) => f(m),
        _ => f(initial),
    })
}

/// Run `f` on an ACL file user's current set: this core's, or `initial`.
pub fn with_acl<R>(slot: usize, initial: &Patterns, f: impl FnOnce(&Patterns) -> R) -> R {
    CURRENT.with(|c| match c.borrow().get(slot) {
        Some(Some((_, Compiled::Acl(p)))) => f(p),
        _ => f(initial),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_keeps_the_newest_change() {
        let set = |keys: &[&str]| {
            let e: Vec<KeyValue> = keys.iter().map(|k| (k.to_string(), None)).collect();
            Compiled::Acl(Arc::new(compile_acl(MatchMethod::Str, false, &e).unwrap()))
        };
        let initial = compile_acl(MatchMethod::Str, false, &[]).unwrap();
        let has = |k: &str| {
            with_acl(5, &initial, |p| {
                p.matches(super::super::pattern::Value::Str(k.as_bytes()))
            })
        };
        assert!(!has("a"), "the start-up set while unchanged");
        apply(&Sets {
            seq: 2,
            sets: vec![(5, set(&["b"]))],
        });
        apply(&Sets {
            seq: 1,
            sets: vec![(5, set(&["a"]))],
        });
        assert!(
            has("b") && !has("a"),
            "an older change compiled late is dropped"
        );
        apply(&Sets {
            seq: 3,
            sets: vec![(5, set(&["a"]))],
        });
        assert!(has("a") && !has("b"));
    }

    #[test]
    fn pattern_file_lines() {
        assert_eq!(
            read_lines("# c\n\n  k1   v 1  \nk2\tv2\n", true),
            [
                ("k1".to_string(), Some("v 1  ".to_string())),
                ("k2".to_string(), Some("v2".to_string()))
            ]
        );
        assert_eq!(
            read_lines("10.0.0.0/8 \n#x\n127.0.0.1\n", false),
            [
                ("10.0.0.0/8 ".to_string(), None),
                ("127.0.0.1".to_string(), None)
            ]
        );
    }
}
