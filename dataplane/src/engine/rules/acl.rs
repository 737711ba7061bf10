//! ACLs and conditions, compiled once per proxy and evaluated over a
//! request (HAProxy's acl.c): an ACL is the OR of its lines (several
//! `acl` lines with one name), a line matches when its sample, fetched and
//! converted, matches one of its patterns; a condition is an OR of ANDs of
//! ACLs, each maybe negated, under `if` or `unless`.
//!
//! A sample that cannot be fetched matches nothing, so `!acl` is true then,
//! as in HAProxy (`ACL_TEST_FAIL` negated is a pass).

use std::cell::Cell;
use std::collections::HashMap;

use ringlb_config::acl::Pattern;
use ringlb_config::acl::{predefined_def, AclDef, AclRef, CondExpr, Condition, MatchMethod};
use ringlb_config::sample::{Arg, SampleExpr};

use super::expr::convert_in;
use super::fetch::{fetch_each, Ctx};
use super::pattern::{CompileError, Patterns, Value};
use super::sample::{Converter, Smp};

/// One compiled `acl` line.
#[derive(Debug)]
struct Line {
    expr: SampleExpr,
    /// The expression's converters, compiled once.
    convs: Vec<Converter>,
    method: MatchMethod,
    patterns: Patterns,
    /// `http_auth_group(<userlist>)`: the groups its patterns name (HAProxy's
    /// `pat_match_auth`: the authenticated user in one of them).
    groups: Option<(String, Vec<String>)>,
    /// Its `-f` pattern files, each a user of its pattern reference (the
    /// runtime API may change it: see `patref`).
    files: Vec<FileSet>,
}

/// One `-f` file of an ACL line: its slot and start-up patterns.
#[derive(Debug)]
struct FileSet {
    slot: usize,
    initial: std::sync::Arc<Patterns>,
}

/// Load and register the `-f` files of `d` (start-up).
fn load_files(d: &AclDef) -> Result<Vec<FileSet>, CompileError> {
    use ringlb_config::acl::PatternFileKind;
    let mut out = Vec::with_capacity(d.files.len());
    for f in &d.files {
        let icase = f.ignore_case || d.flags.ignore_case;
        let kind = super::patref::UseKind::Acl { icase };
        let (slot, entries) = super::patref::register(&f.path, d.method, kind, || {
            let text = match (f.kind, std::fs::read_to_string(&f.path)) {
                (PatternFileKind::Virtual, _) => String::new(),
                (_, Ok(t)) => t,
                (PatternFileKind::Optional, Err(_)) => String::new(),
                (PatternFileKind::Regular, Err(e)) => {
                    return Err(CompileError(format!(
                        "failed to open pattern file <{}> ({e})",
                        f.path
                    )))
                }
            };
            Ok(super::patref::read_lines(&text, f.map))
        })?;
        let initial = std::sync::Arc::new(
            super::patref::compile_acl(d.method, icase, &entries)
                .map_err(|e| CompileError(format!("pattern file <{}>: {}", f.path, e.0)))?,
        );
        super::patref::set_initial(slot, super::patref::Compiled::Acl(initial.clone()));
        out.push(FileSet { slot, initial });
    }
    Ok(out)
}

/// A proxy's ACLs, by name, and the anonymous and predefined ones its
/// conditions use.
#[derive(Debug, Default)]
pub struct Acls {
    lines: Vec<Line>,
    /// Name -> the indexes of its lines in `lines`.
    by_name: HashMap<String, Vec<usize>>,
}

/// A compiled condition: an OR of ANDs of (negated?, line indexes).
#[derive(Debug)]
pub struct Cond {
    unless: bool,
    any_of: Vec<Vec<(bool, Vec<usize>)>>,
}

impl Acls {
    /// Compile the proxy's `acl` lines (in order; one name may have many).
    pub fn compile(defs: &[AclDef]) -> Result<Acls, CompileError> {
        let mut acls = Acls::default();
        for d in defs {
            let i = acls.push(d)?;
            acls.by_name.entry(d.name.clone()).or_default().push(i);
        }
        Ok(acls)
    }

    fn push(&mut self, d: &AclDef) -> Result<usize, CompileError> {
        let convs = d
            .expr
            .converters
            .iter()
            .map(Converter::compile)
            .collect::<Result<_, _>>()?;
        let groups = match (d.expr.fetch.def.name, d.expr.fetch.args.first()) {
            ("http_auth_group", Some(Arg::Userlist(l) | Arg::Str(l))) => Some((
                l.clone(),
                d.patterns
                    .iter()
                    .filter_map(|p| match p {
                        Pattern::Str(g) => Some(g.clone()),
                        _ => None,
                    })
                    .collect(),
            )),
            _ => None,
        };
        self.lines.push(Line {
            expr: d.expr.clone(),
            convs,
            method: d.method,
            patterns: Patterns::compile(d.method, d.flags.ignore_case, &d.patterns)?,
            groups,
            files: load_files(d)?,
        });
        Ok(self.lines.len() - 1)
    }

    /// Compile a condition over these ACLs: a proxy's own ACL first, then
    /// a predefined one of that name, as HAProxy looks them up.
    pub fn condition(&mut self, c: &Condition) -> Result<Cond, CompileError> {
        let (unless, expr): (bool, &CondExpr) = match c {
            Condition::If(e) => (false, e),
            Condition::Unless(e) => (true, e),
        };
        let mut any_of = Vec::with_capacity(expr.any_of.len());
        for all in &expr.any_of {
            let mut terms = Vec::with_capacity(all.len());
            for t in all {
                let lines =
                    match &t.acl {
                        AclRef::Anonymous(d) => vec![self.push(d)?],
                        r => match self.by_name.get(r.name()) {
                            Some(l) => l.clone(),
                            None => {
                                let d = predefined_def(r.name()).and_then(Result::ok).ok_or_else(
                                    || CompileError(format!("unknown ACL '{}'", r.name())),
                                )?;
                                let i = self.push(&d)?;
                                self.by_name.insert(r.name().to_string(), vec![i]);
                                vec![i]
                            }
                        },
                    };
                terms.push((t.negate, lines));
            }
            any_of.push(terms);
        }
        Ok(Cond { unless, any_of })
    }

    /// Whether one ACL line matches the request.
    fn line_matches(&self, i: usize, cx: &Ctx<'_>) -> bool {
        let Some(line) = self.lines.get(i) else {
            return false;
        };
        if let Some((list, groups)) = &line.groups {
            // The fetch gives the authenticated user.
            return match super::fetch::fetch(&line.expr.fetch, cx) {
                Some(Smp::Str(user)) => cx.users.is_some_and(|u| u.in_group(list, &user, groups)),
                _ => false,
            };
        }
        // Each value of a multi-valued fetch (headers) is tried in turn.
        fetch_each(&line.expr.fetch, cx, |v| {
            let mut v = Some(v);
            for c in &line.convs {
                v = v.and_then(|v| convert_in(c, v, cx));
            }
            let Some(v) = v else { return false };
            // The sample as the match method wants it (`len` counts the
            // bytes of the string form; `found` takes anything).
            let typed = if matches!(line.method, MatchMethod::Found) {
                Some(v)
            } else {
                v.cast(line.method.sample_type())
            };
            let Some(v) = typed else { return false };
            let value = match &v {
                Smp::Bool(b) => Value::Bool(*b),
                Smp::Int(n) => Value::Int(*n),
                Smp::Ipv4(a) => Value::Ip((*a).into()),
                Smp::Ipv6(a) => Value::Ip((*a).into()),
                Smp::Str(s) => Value::Str(s),
                Smp::Bin(s) => Value::Bin(s),
            };
            line.patterns.matches(value)
                || line
                    .files
                    .iter()
                    .any(|f| super::patref::with_acl(f.slot, &f.initial, |p| p.matches(value)))
        })
    }

    /// Evaluate `cond` while content may still come (`tcp-request
    /// content`): HAProxy's three-valued ACL_TEST_* logic. A line that
    /// did not match and whose fetch noted its answer may change (the
    /// engine sets `may_change` through [`super::env::Env::may_change`])
    /// is a miss; a miss ANDed stays a miss unless a term fails, ORed
    /// unless a suite passes, and survives `!` and `unless`: the rule
    /// then waits for more bytes.
    pub fn eval_partial(&self, cond: &Cond, cx: &Ctx<'_>, may_change: &Cell<bool>) -> Tri {
        let mut res = Tri::Fail;
        for all in &cond.any_of {
            let mut suite = Tri::Pass;
            for (negate, lines) in all {
                let mut term = Tri::Fail;
                for i in lines {
                    may_change.set(false);
                    if self.line_matches(*i, cx) {
                        term = Tri::Pass;
                        break;
                    }
                    if may_change.get() {
                        term = Tri::Miss;
                    }
                }
                if *negate {
                    term = term.not();
                }
                suite = suite.and(term);
                if suite == Tri::Fail {
                    break;
                }
            }
            res = res.or(suite);
            if res == Tri::Pass {
                break;
            }
        }
        if cond.unless {
            res.not()
        } else {
            res
        }
    }

    /// Evaluate `cond` over the request.
    pub fn eval(&self, cond: &Cond, cx: &Ctx<'_>) -> bool {
        let hit = cond.any_of.iter().any(|all| {
            all.iter().all(|(negate, lines)| {
                let m = lines.iter().any(|i| self.line_matches(*i, cx));
                m != *negate
            })
        });
        hit != cond.unless
    }
}

/// HAProxy's ACL_TEST_FAIL / MISS / PASS (0, 1, 3: AND and OR are bitwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    Fail,
    Miss,
    Pass,
}

impl Tri {
    fn bits(self) -> u8 {
        match self {
            Tri::Fail => 0,
            Tri::Miss => 1,
            Tri::Pass => 3,
        }
    }
    fn from_bits(b: u8) -> Tri {
        match b {
            0 => Tri::Fail,
            3 => Tri::Pass,
            _ => Tri::Miss,
        }
    }
    fn and(self, o: Tri) -> Tri {
        Tri::from_bits(self.bits() & o.bits())
    }
    fn or(self, o: Tri) -> Tri {
        Tri::from_bits(self.bits() | o.bits())
    }
    /// A miss stays a miss.
    fn not(self) -> Tri {
        match self {
            Tri::Fail => Tri::Pass,
            Tri::Miss => Tri::Miss,
            Tri::Pass => Tri::Fail,
        }
    }
}
