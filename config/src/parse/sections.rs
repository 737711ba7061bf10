//! Sections other than global and proxies: userlist, peers, resolvers,
//! http-errors, cache, ring, mailers, program (typed), and fcgi-app,
//! log-forward, crt-store, traces, acme, log-profile (kept as directives
//! checked against the keyword tables).
//!
//! Verdicts follow HAProxy 3.2's source (cfgparse.c, resolvers.c,
//! http_htx.c, cache.c, sink.c, mworker-prog.c). Checks HAProxy runs once
//! a section or the whole file is read (userlist cross references, a cache
//! without a size, a program without a command) live in [`finish`], which
//! the driver calls after the last file.

mod cache;
mod http_errors;
mod mailers;
mod peers;
mod program;
mod resolvers;
mod ring;
mod userlist;

use std::time::Duration;

use super::global::{check_arity, repeat_last, split_modifier, Modifier, NEGATABLE};
use super::{invalid_name_char, words_from, Cur, Line, Parser};
use crate::diag::{did_you_mean, Diagnostic};
use crate::keywords::{self, Section, SectionKw, SECTION_KEYWORDS};
use crate::model::{
    Cache, HttpErrors, Mailers, Named, OtherSection, Peers, Program, Resolvers, ResolversHold,
    Ring, Userlist,
};
use crate::units::{parse_duration, TimeUnit};
use cache::cache;
pub(crate) use http_errors::check_errorfile;
use http_errors::http_errors;
use mailers::mailers;
use peers::{local_peer, peers};
use program::program;
use resolvers::resolvers;
use ring::ring;
use userlist::userlist;

/// Status codes an `errorfile` may customise: HAProxy 3.2's manual lists
/// 200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 414, 425, 429, 431,
/// 500, 501, 502, 503 and 504; its http_err_codes[] also has 421 and 422.
pub(crate) const ERRORFILE_CODES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 414, 421, 422, 425, 429, 431, 500, 501, 502,
    503, 504,
];

/// Sinks HAProxy always defines: a ring cannot take these names.
const BUILTIN_SINKS: &[&str] = &["stdout", "stderr", "buf0"];

/// HAProxy's default buffer size, the default size of a ring.
const BUFSIZE: u64 = 16384;

/// Open a section: create its model entry and make it current. A section
/// with an error in its header is still opened, so its lines are checked
/// (and not taken for lines of the previous section).
pub(crate) fn open(p: &mut Parser<'_>, section: Section, line: &Line<'_>) {
    let kw = section.keyword();
    let name = line.arg(1).unwrap_or("");
    let loc = line.loc.clone();
    let named = Named {
        name: name.to_string(),
        loc: loc.clone(),
    };

    // The name: mandatory except for crt-store and traces.
    let takes_name = !matches!(section, Section::CrtStore | Section::Traces);
    if takes_name && name.is_empty() {
        let msg = match section {
            Section::Peers | Section::Resolvers | Section::Mailers | Section::HttpErrors => {
                format!("missing name for {kw} section")
            }
            Section::Ring => "missing ring name".to_string(),
            Section::Cache => "'cache' expects a <name> argument".to_string(),
            Section::Program => "'program' expects an <id> argument".to_string(),
            _ => format!("'{kw}' expects <name> as argument"),
        };
        p.push(line.err(1, msg));
    } else if section == Section::Traces && !name.is_empty() {
        p.push(line.err(1, "'traces' takes no argument"));
    } else if !name.is_empty() {
        if let Some(c) = invalid_name_char(name) {
            let msg = format!("character '{c}' is not permitted in '{kw}' name '{name}'");
            // HAProxy checks neither cache nor program names.
            if matches!(section, Section::Cache | Section::Program) {
                p.push(line.warn(1, msg));
            } else {
                p.push(line.err(1, msg));
            }
        }
    }
    if line.len() > 2 {
        let msg = format!(
            "'{kw}' cannot handle unexpected argument '{}'",
            line.word(2)
        );
        // Fatal where HAProxy checks it; ignored elsewhere.
        if matches!(
            section,
            Section::Userlist | Section::Peers | Section::Program | Section::Cache
        ) {
            p.push(line.err(2, msg));
        } else {
            p.push(line.warn(2, format!("{msg}, ignored")));
        }
    }

    if section == Section::Acme && !p.cfg.global.expose_experimental {
        // Manual 12.8: the acme section is experimental in 3.2.
        p.push(
            line.err(0, "'acme' section is experimental, must be allowed via a global 'expose-experimental-directives'")
                .with_hint("put 'expose-experimental-directives' in the global section, before this one"),
        );
    }
    if section == Section::Program {
        p.push(
            // A notice, not a warning: HAProxy 3.2 documents the deprecation
            // but does not warn, and warnings fail under 'zero-warning'.
            Diagnostic::notice(
                &line.loc,
                "the 'program' section is deprecated and should disappear with HAProxy 3.3",
            )
            .with_hint("use a process manager (systemd, s6, supervisord) instead"),
        );
    }

    // Duplicate names: a warning for userlists (the lines that follow go
    // to the first one), an error for everything else.
    if !name.is_empty() {
        if let Some(prev) = declared_at(p, section, name) {
            if section == Section::Userlist {
                // haproxy 2.6: "ignoring duplicated userlist 'a'." (a warning)
                p.push(line.warn(
                    1,
                    format!("ignoring duplicated userlist '{name}' (first declared at {prev})"),
                ));
                if let Some(idx) = p.cfg.userlists.iter().position(|u| u.name.name == name) {
                    p.cur = Cur::Other(section, idx);
                    return;
                }
            } else if section == Section::Traces {
                // Several traces sections are allowed.
            } else {
                p.push(line.err(1, format!("{kw} section '{name}' has the same name as another {kw} section declared at {prev}")));
            }
        }
        if section == Section::Ring && BUILTIN_SINKS.contains(&name) {
            p.push(line.err(
                1,
                format!("sink named '{name}' already exists (it is built in)"),
            ));
        }
    }

    let idx = match section {
        Section::Userlist => push(
            &mut p.cfg.userlists,
            Userlist {
                name: named,
                groups: Vec::new(),
                users: Vec::new(),
            },
        ),
        Section::Peers => push(
            &mut p.cfg.peers,
            Peers {
                name: named,
                disabled: false,
                peers: Vec::new(),
                bind: None,
                default_bind: Vec::new(),
                default_server: Vec::new(),
                shards: None,
                tables: Vec::new(),
                logs: Vec::new(),
            },
        ),
        Section::Resolvers => push(
            &mut p.cfg.resolvers,
            Resolvers {
                name: named,
                nameservers: Vec::new(),
                parse_resolv_conf: false,
                resolv_conf_at: None,
                resolve_retries: None,
                timeout_resolve: None,
                timeout_retry: None,
                hold: ResolversHold::default(),
                accepted_payload_size: None,
            },
        ),
        Section::HttpErrors => push(
            &mut p.cfg.http_errors,
            HttpErrors {
                name: named,
                errorfiles: Vec::new(),
            },
        ),
        Section::Cache => push(
            &mut p.cfg.caches,
            Cache {
                name: named,
                total_max_size_mb: None,
                max_object_size: None,
                max_age: None,
                process_vary: None,
                max_secondary_entries: None,
            },
        ),
        Section::Ring => push(
            &mut p.cfg.rings,
            Ring {
                name: named,
                description: None,
                format: None,
                size: None,
                maxlen: None,
                backing_file: None,
                timeout_connect: None,
                timeout_server: None,
                servers: Vec::new(),
            },
        ),
        Section::Mailers => push(
            &mut p.cfg.mailers,
            Mailers {
                name: named,
                mailers: Vec::new(),
                timeout_mail: None,
            },
        ),
        Section::Program => push(
            &mut p.cfg.programs,
            Program {
                name: named,
                command: Vec::new(),
                user: None,
                group: None,
                start_on_reload: true,
            },
        ),
        _ => push(
            &mut p.cfg.other_sections,
            OtherSection {
                kind: section,
                name: (!name.is_empty()).then(|| name.to_string()),
                loc,
                directives: Vec::new(),
            },
        ),
    };
    p.cur = Cur::Other(section, idx);
}

fn push<T>(v: &mut Vec<T>, item: T) -> usize {
    v.push(item);
    v.len() - 1
}

/// Where a section of this kind and name was declared before, if it was.
fn declared_at(p: &Parser<'_>, section: Section, name: &str) -> Option<String> {
    fn find<T>(v: &[T], name: &str, n: impl Fn(&T) -> &Named) -> Option<String> {
        v.iter()
            .map(n)
            .find(|x| x.name == name)
            .map(|x| x.loc.to_string())
    }
    let c = &p.cfg;
    match section {
        Section::Userlist => find(&c.userlists, name, |x| &x.name),
        Section::Peers => find(&c.peers, name, |x| &x.name),
        Section::Resolvers => find(&c.resolvers, name, |x| &x.name),
        Section::HttpErrors => find(&c.http_errors, name, |x| &x.name),
        Section::Cache => find(&c.caches, name, |x| &x.name),
        Section::Ring => find(&c.rings, name, |x| &x.name),
        Section::Mailers => find(&c.mailers, name, |x| &x.name),
        Section::Program => find(&c.programs, name, |x| &x.name),
        _ => c
            .other_sections
            .iter()
            .find(|s| s.kind == section && s.name.as_deref() == Some(name))
            .map(|s| s.loc.to_string()),
    }
}

/// One keyword line of the current section.
pub(crate) fn keyword(p: &mut Parser<'_>, section: Section, idx: usize, line: &Line<'_>) {
    if let Err(d) = keyword_inner(p, section, idx, line) {
        p.push(d);
    }
}

fn keyword_inner(
    p: &mut Parser<'_>,
    section: Section,
    idx: usize,
    line: &Line<'_>,
) -> Result<(), Diagnostic> {
    let (modifier, line) = split_modifier(line, NEGATABLE)?;
    let doubled;
    let line = if modifier == Modifier::Default {
        doubled = repeat_last(&line);
        &Line::new(&doubled, line.loc.clone())
    } else {
        &line
    };
    match section {
        Section::Userlist => userlist(p, idx, line),
        Section::Peers => peers(p, idx, line, modifier),
        Section::Resolvers => resolvers(p, idx, line),
        Section::HttpErrors => http_errors(p, idx, line),
        Section::Cache => cache(p, idx, line),
        Section::Ring => ring(p, idx, line),
        Section::Mailers => mailers(p, idx, line),
        Section::Program => program(p, idx, line, modifier),
        _ => other(p, section, idx, line, modifier),
    }
}

/// "unknown keyword 'x' in 'y' section", with a suggestion from the
/// section's keyword table.
fn unknown(line: &Line<'_>, section: Section) -> Diagnostic {
    let kw = line.kw();
    let mut d = line.err(
        0,
        format!("unknown keyword '{kw}' in '{}' section", section.keyword()),
    );
    let candidates = SECTION_KEYWORDS
        .iter()
        .filter(|k| k.section == section)
        .filter_map(|k| k.name.split(' ').next());
    if let Some(h) = did_you_mean(kw, candidates) {
        d = d.with_hint(format!("did you mean '{h}'?"));
    }
    d
}

/// The table entry for the line's keyword (two-word names first).
fn lookup(section: Section, line: &Line<'_>) -> Option<(&'static SectionKw, usize)> {
    if let Some(w1) = line.arg(1) {
        let two = format!("{} {w1}", line.kw());
        if let Some(k) = keywords::section_keyword(section, &two) {
            return Some((k, 2));
        }
    }
    keywords::section_keyword(section, line.kw()).map(|k| (k, 1))
}

/// A parsed duration, reported HAProxy's way ("unexpected character").
fn time_arg(line: &Line<'_>, i: usize, what: &str) -> Result<Duration, Diagnostic> {
    let text = line.word(i);
    if text.is_empty() {
        return Err(line.err(i, format!("'{what}' expects <time> as argument")));
    }
    parse_duration(text, TimeUnit::Millis).map_err(|e| line.err(i, format!("'{what}': {e}")))
}

// ---------------------------------------------------------------- the rest

/// fcgi-app, log-forward, crt-store, traces, acme, log-profile: keywords
/// checked against the table and kept as directives.
fn other(
    p: &mut Parser<'_>,
    section: Section,
    idx: usize,
    line: &Line<'_>,
    modifier: Modifier,
) -> Result<(), Diagnostic> {
    let Some((def, kw_words)) = lookup(section, line) else {
        return Err(unknown(line, section));
    };
    check_arity(line, kw_words, def.arity, def.name, def.usage)?;
    if let Some(s) = p.cfg.other_sections.get_mut(idx) {
        s.directives.push(crate::model::Directive {
            // "no option keep-conn" stays distinguishable from the option.
            keyword: if modifier == Modifier::No {
                format!("no {}", def.name)
            } else {
                def.name.to_string()
            },
            args: words_from(line.words, kw_words),
            loc: line.loc.clone(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------- end of parse

/// Checks HAProxy runs once the sections are read: userlist cross
/// references, caches without a size, programs without a command or
/// without master-worker mode, resolvers without nameservers, rings whose
/// maxlen exceeds their size. Called once, after the last file.
pub(crate) fn finish(p: &mut Parser<'_>) {
    let mut out: Vec<Diagnostic> = Vec::new();

    for ul in &p.cfg.userlists {
        let name = &ul.name.name;
        for u in &ul.users {
            for g in &u.groups {
                if ul.group(g).is_none() {
                    out.push(Diagnostic::error(
                        &u.loc,
                        format!(
                            "userlist '{name}': no such group '{g}' specified in user '{}'",
                            u.name
                        ),
                    ));
                }
            }
        }
        for g in &ul.groups {
            for u in &g.users {
                if ul.user(u).is_none() {
                    out.push(Diagnostic::error(
                        &g.loc,
                        format!(
                            "userlist '{name}': no such user '{u}' specified in group '{}'",
                            g.name
                        ),
                    ));
                }
            }
        }
    }

    // Sections whose header lacked a name were reported already.
    for c in p.cfg.caches.iter().filter(|c| !c.name.name.is_empty()) {
        let loc = &c.name.loc;
        let Some(mb) = c.total_max_size_mb.filter(|n| *n > 0) else {
            out.push(
                Diagnostic::error(
                    loc,
                    format!("Size not specified for cache '{}'", c.name.name),
                )
                .with_hint("add 'total-max-size <megabytes>'"),
            );
            continue;
        };
        let total = u64::from(mb) << 20;
        if let Some(obj) = c.max_object_size {
            if u64::from(obj) > total / 2 {
                out.push(Diagnostic::error(
                    loc,
                    format!(
                        "\"max-object-size\" is limited to an half of \"total-max-size\" => {}",
                        total / 2
                    ),
                ));
            }
        }
    }

    // Without master-worker mode (the 'master-worker' keyword or -W on the
    // command line, which the configuration cannot see) a program section
    // is an error too: the binary checks that one.
    for prog in p.cfg.programs.iter().filter(|x| !x.name.name.is_empty()) {
        let loc = &prog.name.loc;
        if prog.command.is_empty() {
            out.push(Diagnostic::error(
                loc,
                format!(
                    "The program section '{}' lacks a command to launch",
                    prog.name.name
                ),
            ));
        }
    }

    // A peers section without the local peer is dropped by HAProxy with
    // a warning (verified with 2.6): nothing would be synchronised.
    if let Some(local) = local_peer(p) {
        for s in p
            .cfg
            .peers
            .iter()
            .filter(|s| !s.disabled && !s.name.name.is_empty())
        {
            if s.bind.is_none() && !s.peers.iter().any(|x| x.name == local) {
                out.push(
                    Diagnostic::warning(
                        &s.name.loc,
                        format!(
                            "Removing incomplete section 'peers {}' (no peer named '{local}')",
                            s.name.name
                        ),
                    )
                    .with_hint("name the local peer with 'localpeer' in the global section or -L"),
                );
            }
        }
    }

    for r in &p.cfg.resolvers {
        if r.nameservers.is_empty() && !r.parse_resolv_conf {
            out.push(Diagnostic::warning(
                &r.name.loc,
                format!("resolvers '{}' has no nameservers configured!", r.name.name),
            ));
        }
    }

    for r in &p.cfg.rings {
        let size = r.size.unwrap_or(BUFSIZE);
        if let Some(maxlen) = r.maxlen.filter(|m| u64::from(*m) > size) {
            out.push(Diagnostic::warning(
                &r.name.loc,
                format!(
                    "ring '{}' event max length '{maxlen}' exceeds size, forced to size '{size}'",
                    r.name.name
                ),
            ));
        }
    }

    for d in out {
        p.push(d);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::super::Parser;
    use super::{check_errorfile, finish};
    use crate::addr::{Address, Transport};
    use crate::diag::{Diagnostics, Severity, SourceFile};
    use crate::keywords::Section;
    use crate::model::{Config, LogWireFormat, Password, StickKeyType};
    use crate::Host;

    #[derive(Default)]
    struct TestHost {
        env: HashMap<String, String>,
        files: HashMap<String, Vec<u8>>,
    }

    impl Host for TestHost {
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }
        fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| "No such file or directory".to_string())
        }
    }

    /// Parse one file and run the end-of-parse checks, without relying on
    /// where the driver calls `finish`.
    fn parse_with(host: &TestHost, text: &str) -> (Config, Diagnostics) {
        let file = SourceFile::new("t.cfg", text);
        let mut p = Parser::new(host);
        p.parse_file(&file);
        finish(&mut p);
        (p.cfg, p.diags)
    }

    fn parse(text: &str) -> (Config, Diagnostics) {
        parse_with(&TestHost::default(), text)
    }

    fn diags(d: &Diagnostics) -> Vec<(u32, Severity, String)> {
        d.list
            .iter()
            .map(|d| {
                (
                    d.loc.as_ref().map_or(0, |l| l.line),
                    d.severity,
                    d.message.clone(),
                )
            })
            .collect()
    }

    fn clean(text: &str) -> Config {
        let (cfg, d) = parse(text);
        assert!(d.list.is_empty(), "unexpected diagnostics: {:?}", diags(&d));
        cfg
    }

    /// The only error: (line, message).
    fn only_error(text: &str) -> (u32, String) {
        let (_, d) = parse(text);
        let errs: Vec<_> = d.errors().collect();
        assert_eq!(errs.len(), 1, "expected one error, got {:?}", diags(&d));
        errs.first()
            .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()))
            .unwrap_or_default()
    }

    fn first_error(text: &str) -> (u32, String) {
        let (_, d) = parse(text);
        let first = d
            .errors()
            .next()
            .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()));
        first.unwrap_or_default()
    }

    fn warnings(text: &str) -> Vec<(u32, String)> {
        let (_, d) = parse(text);
        assert!(!d.has_errors(), "{:?}", diags(&d));
        d.warnings()
            .map(|w| (w.loc.as_ref().map_or(0, |l| l.line), w.message.clone()))
            .collect()
    }

    #[test]
    fn userlists() {
        let cfg = clean(
            "userlist L1\n  group G1 users tiger,scott\n  group G2 users xdb,,scott\n  \
             user tiger password $6$k6y3o.eP$JlKBx9\n  user scott insecure-password elgato\n  user xdb insecure-password hello\n\
             userlist L2\n  group G1\n  user scott insecure-password elgato groups G1\n",
        );
        let l1 = cfg.userlists.first();
        assert_eq!(l1.map(|u| (u.groups.len(), u.users.len())), Some((2, 3)));
        let g2 = l1.and_then(|u| u.group("G2")).map(|g| g.users.clone());
        assert_eq!(g2, Some(vec!["xdb".to_string(), "scott".to_string()]));
        let tiger = l1
            .and_then(|u| u.user("tiger"))
            .and_then(|u| u.password.clone());
        assert_eq!(tiger, Some(Password::Hashed("$6$k6y3o.eP$JlKBx9".into())));
        let l2 = cfg.userlists.get(1);
        assert_eq!(l2.map(|u| u.in_group("scott", "G1")), Some(true));
        assert_eq!(l1.map(|u| u.in_group("xdb", "G1")), Some(false));
    }

    #[test]
    fn userlist_verdicts() {
        // Each verified with haproxy 2.6.
        assert_eq!(
            only_error("userlist\n").1,
            "'userlist' expects <name> as argument"
        );
        assert_eq!(
            only_error("userlist a b\n").1,
            "'userlist' cannot handle unexpected argument 'b'"
        );
        assert_eq!(
            only_error("userlist a/b\n").1,
            "character '/' is not permitted in 'userlist' name 'a/b'"
        );
        assert_eq!(
            only_error("userlist a\n group g users a,b foo\n"),
            (2, "'group' only supports 'users' option".into())
        );
        assert_eq!(
            only_error("userlist a\n user u insecure-password x foo\n"),
            (
                2,
                "'user' only supports 'password', 'insecure-password' and 'groups' options".into()
            )
        );
        assert_eq!(
            only_error("userlist a\n foo\n"),
            (2, "unknown keyword 'foo' in 'userlist' section".into())
        );
        assert_eq!(
            only_error("userlist a\n group g/x\n").1,
            "character '/' is not permitted in 'group' name 'g/x'"
        );
        // Cross references are checked after the whole file, so forward
        // references work (verified with 2.6) and missing ones fail.
        clean("userlist a\n group g users u\n user u insecure-password x\n");
        clean("userlist a\n user u insecure-password x groups g,h\n group g users u\n group h\n");
        assert_eq!(
            only_error("userlist a\n user u insecure-password x groups nog\n"),
            (
                2,
                "userlist 'a': no such group 'nog' specified in user 'u'".into()
            )
        );
        assert_eq!(
            only_error("userlist a\n group g users nou\n"),
            (
                2,
                "userlist 'a': no such user 'nou' specified in group 'g'".into()
            )
        );
        // 3.2 refuses a second 'users' (2.6 kept the last one).
        assert!(
            only_error("userlist a\n group g users a users b\n user a\n user b\n")
                .1
                .contains("already defined")
        );
    }

    #[test]
    fn userlist_duplicates_are_warnings() {
        // haproxy 2.6: "ignoring duplicated userlist/group/user" are
        // warnings; the configuration is valid.
        let w = warnings(
            "userlist a\n user u insecure-password x\nuserlist a\n user v insecure-password y\n group g\n group g\n user v\n",
        );
        let lines: Vec<_> = w.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 6, 7]);
        assert!(w
            .first()
            .is_some_and(|(_, m)| m.starts_with("ignoring duplicated userlist 'a'")));
        let (cfg, _) = parse(
            "userlist a\n user u insecure-password x\nuserlist a\n user v insecure-password y\n",
        );
        assert_eq!(cfg.userlists.len(), 1);
        assert_eq!(cfg.userlists.first().map(|u| u.users.len()), Some(2));
    }

    #[test]
    fn peers_sections() {
        let cfg = clean(
            "peers mypeers\n  peer haproxy1 192.168.0.1:1024\n  peer haproxy2 192.168.0.2:1024 ssl verify none\n  \
             shards 3\n  table t1 type string len 40 size 10m expire 30s store gpc0,conn_rate(10s)\n  \
             table t2 type ip size 1k nopurge\n  log stdout format raw local0\n  disabled\n  enabled\n\
             peers p2\n  bind 192.168.0.1:1024 ssl crt mycerts/pem\n  default-server ssl verify none\n  \
             server haproxy1\n  server haproxy2 192.168.0.2:1024\n",
        );
        let p1 = cfg.peers.first();
        assert_eq!(
            p1.map(|p| (p.peers.len(), p.shards, p.disabled, p.logs.len())),
            Some((2, Some(3), false, 1))
        );
        let t1 = p1.and_then(|p| p.tables.first());
        assert_eq!(
            t1.map(|t| (t.name.as_str(), t.table.key.clone())),
            Some(("t1", StickKeyType::String { len: 40 }))
        );
        assert_eq!(
            t1.map(|t| t.table.expire),
            Some(Some(Duration::from_secs(30)))
        );
        let opts = p1.and_then(|p| p.peers.get(1)).map(|x| x.options.clone());
        assert_eq!(
            opts,
            Some(vec!["ssl".to_string(), "verify".into(), "none".into()])
        );
        let p2 = cfg.peers.get(1);
        assert!(p2.is_some_and(|p| p.bind.is_some()));
        let local = p2.and_then(|p| p.peers.first());
        assert_eq!(
            local.map(|x| (x.server_line, x.addr.is_none())),
            Some((true, true))
        );
    }

    #[test]
    fn peers_verdicts() {
        // haproxy 2.6 wordings, same verdicts.
        assert_eq!(
            only_error("peers p\n peer a 127.0.0.1:1000\npeers p\n peer b 127.0.0.1:1001\n"),
            (
                3,
                "peers section 'p' has the same name as another peers section declared at t.cfg:1"
                    .into()
            )
        );
        assert_eq!(only_error("peers\n").1, "missing name for peers section");
        assert_eq!(
            only_error("peers p/x\n").1,
            "character '/' is not permitted in 'peers' name 'p/x'"
        );
        assert_eq!(
            only_error("peers p\n bind :1000\n peer a 127.0.0.1:1001\n"),
            (3, "mixing \"peer\" and \"bind\" line is forbidden".into())
        );
        assert!(
            only_error("peers p\n bind 127.0.0.1:1000\n bind 127.0.0.1:1001\n")
                .1
                .starts_with("One listener")
        );
        assert!(only_error("peers p\n peer x 127.0.0.1:1000-1002\n")
            .1
            .contains("port range"));
        let (_, d) = parse("peers p\n peer vm 127.0.0.1:1000 tfoo\n");
        let e = d
            .errors()
            .next()
            .map(|e| (e.message.clone(), e.hint.clone()));
        assert_eq!(
            e,
            Some((
                "'peer vm' : unknown keyword 'tfoo'".into(),
                Some("did you mean 'tfo'?".into())
            ))
        );
        assert_eq!(
            only_error("peers p\n table t type foo size 10k\n").1,
            "'stick-table': unknown type 'foo' (expects ip, ipv6, integer, string or binary)"
        );
        assert_eq!(
            only_error("peers p\n table t type ip size 1k peers p\n").1,
            "table: unknown argument 'peers'"
        );
        assert_eq!(
            only_error("peers p\n foo\n"),
            (2, "unknown keyword 'foo' in 'peers' section".into())
        );
        // 3.2 only (2.6 did not know 'shards' and accepted duplicate tables).
        assert_eq!(
            only_error("peers p\n shards 0\n").1,
            "'shards' : expects a strictly positive integer argument"
        );
        assert!(
            only_error("peers p\n table t type ip size 1k\n table t type ip size 2k\n")
                .1
                .contains("conflicts")
        );
        // Warnings only.
        let w = warnings("peers p\n peer a\n peer b 127.0.0.1:1 \n peer b 127.0.0.1:2\n");
        assert_eq!(w.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![2, 4]);
    }

    #[test]
    fn local_peer() {
        let mut host = TestHost::default();
        host.env.insert("HAPROXY_LOCALPEER".into(), "vm".into());
        // "server <local>" takes no address: the next words are options.
        let (cfg, d) = parse_with(
            &host,
            "peers p\n bind :1024\n server vm ssl\n server b 10.0.0.2:1024\n",
        );
        assert!(d.list.is_empty(), "{:?}", diags(&d));
        let first = cfg.peers.first().and_then(|s| s.peers.first());
        assert_eq!(
            first.map(|x| (x.addr.is_none(), x.options.clone())),
            Some((true, vec!["ssl".to_string()]))
        );
        // haproxy 2.6 (host name vm): "Removing incomplete section 'peers p'
        // (no peer named 'vm')." is a warning.
        let (_, d) = parse_with(&host, "peers p\n peer a 127.0.0.1:1000\n");
        assert!(!d.has_errors());
        let w: Vec<_> = d.warnings().map(|w| w.message.clone()).collect();
        assert_eq!(
            w,
            vec!["Removing incomplete section 'peers p' (no peer named 'vm')".to_string()]
        );
        // The local peer twice is fatal (verified with 2.6), another peer
        // twice only a warning.
        let (_, d) = parse_with(&host, "peers p\n bind :1000\n server vm\n server vm\n");
        assert_eq!(d.errors().count(), 1);
        assert!(d
            .errors()
            .any(|e| e.message.contains("local peer name already referenced")));
        // 'localpeer' in the global section wins over the host name.
        let (_, d) = parse_with(
            &host,
            "global\n localpeer a\npeers p\n peer a 127.0.0.1:1000\n",
        );
        assert!(d.list.is_empty(), "{:?}", diags(&d));
    }

    #[test]
    fn resolvers_sections() {
        let cfg = clean(
            "resolvers mydns\n  nameserver dns1 10.0.0.1:53\n  nameserver dns3 tcp@10.0.0.3:53 maxconn 4\n  parse-resolv-conf\n  \
             resolve_retries 3\n  timeout resolve 1s\n  timeout retry 2s\n  hold other 30s\n  hold nx 10s\n  \
             hold obsolete 0s\n  accepted_payload_size 8192\n",
        );
        let r = cfg.resolvers.first();
        let transports: Vec<_> = r
            .map(|r| {
                r.nameservers
                    .iter()
                    .map(|n| {
                        matches!(
                            n.addr,
                            Address::Inet {
                                transport: Transport::Dgram,
                                ..
                            }
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(transports, vec![true, false]);
        assert_eq!(
            r.map(|r| (r.parse_resolv_conf, r.resolv_conf_at)),
            Some((true, Some(2)))
        );
        assert_eq!(
            r.map(|r| r.timeout_retry),
            Some(Some(Duration::from_secs(2)))
        );
        assert_eq!(r.map(|r| r.hold.nx), Some(Some(Duration::from_secs(10))));
        assert_eq!(r.map(|r| r.accepted_payload_size), Some(Some(8192)));
    }

    #[test]
    fn resolvers_verdicts() {
        // haproxy 2.6 wordings, same verdicts.
        let ns = "resolvers r\n nameserver a 127.0.0.1:53\n";
        assert_eq!(
            only_error("resolvers r\n nameserver a 127.0.0.1:53\nresolvers r\n nameserver b 127.0.0.1:53\n").0,
            3
        );
        assert_eq!(
            only_error("resolvers\n").1,
            "missing name for resolvers section"
        );
        assert_eq!(
            only_error("resolvers r\n nameserver a 127.0.0.1:53\n nameserver a 127.0.0.2:53\n"),
            (
                3,
                "nameserver 'a' has same name as another nameserver (declared at t.cfg:2)".into()
            )
        );
        assert!(only_error("resolvers r\n nameserver a 127.0.0.1\n")
            .1
            .contains("missing port"));
        assert_eq!(
            only_error("resolvers r\n nameserver a\n").1,
            "'nameserver' expects <name> and <addr>[:<port>] as arguments"
        );
        assert!(only_error(&format!("{ns} hold foo 1s\n"))
            .1
            .starts_with("'hold' unknown <event>: 'foo'"));
        assert_eq!(
            only_error(&format!("{ns} hold nx\n")).1,
            "'hold' expects an <event> and a <time> as arguments"
        );
        assert_eq!(
            only_error(&format!("{ns} timeout foo 1s\n")).1,
            "'timeout' expects 'retry' or 'resolve' and <time> as arguments got 'foo'"
        );
        assert_eq!(
            only_error(&format!("{ns} timeout retry\n")).1,
            "'timeout retry' expects <time> as argument"
        );
        assert_eq!(
            only_error(&format!("{ns} accepted_payload_size 70000\n")).1,
            "'accepted_payload_size' must be between 12 and 65535 inclusive (was 70000)"
        );
        assert_eq!(
            only_error(&format!("{ns} resolution_pool_size 10\n")).1,
            "'resolution_pool_size' directive is not supported anymore (it never appeared in a stable release)"
        );
        clean(&format!(
            "{ns} resolve_retries 0\n accepted_payload_size 100\n timeout resolve 0\n"
        ));
        // A warning only (verified with 2.6).
        assert_eq!(
            warnings("resolvers r\n"),
            vec![(
                1,
                "resolvers 'r' has no nameservers configured!".to_string()
            )]
        );
    }

    fn errorfiles() -> TestHost {
        let mut h = TestHost::default();
        let ok =
            b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<h1>down</h1>\n";
        h.files.insert("/e/503.http".into(), ok.to_vec());
        h.files.insert("/dev/null".into(), Vec::new());
        h.files.insert("/e/bad.http".into(), b"garbage\n".to_vec());
        h
    }

    #[test]
    fn http_errors_sections() {
        let host = errorfiles();
        let (cfg, d) = parse_with(
            &host,
            "http-errors site\n  errorfile 503 /e/503.http\n  errorfile 408 /dev/null\n  errorfile 503 /e/503.http\n",
        );
        assert!(d.list.is_empty(), "{:?}", diags(&d));
        let h = cfg.http_errors.first();
        let statuses: Vec<_> = h
            .map(|h| h.errorfiles.iter().map(|e| e.status).collect())
            .unwrap_or_default();
        assert_eq!(statuses, vec![408, 503]);
        assert!(h
            .and_then(|h| h.errorfiles.last())
            .is_some_and(|e| e.content.starts_with(b"HTTP/1.0 503")));

        let err = |text: &str| {
            let (_, d) = parse_with(&host, text);
            let e: Vec<_> = d
                .errors()
                .map(|e| (e.loc.as_ref().map_or(0, |l| l.line), e.message.clone()))
                .collect();
            e
        };
        // haproxy 2.6 wordings, same verdicts.
        assert_eq!(
            err("http-errors e\n errorfile 503 /e/nope.http\n"),
            vec![(
                2,
                "errorfile : error opening file '/e/nope.http': No such file or directory".into()
            )]
        );
        assert_eq!(
            err("http-errors e\n errorfile 503 /e/bad.http\n"),
            vec![(
                2,
                "errorfile : '/e/bad.http': unable to parse headers (no empty line after them)"
                    .into()
            )]
        );
        assert_eq!(
            err("http-errors e\n errorfile 999 /e/503.http\n"),
            vec![(2, "errorfile : status code '999' not handled".into())]
        );
        assert_eq!(
            err("http-errors e\n errorfile 302 /e/503.http\n"),
            vec![(2, "errorfile : status code '302' not handled".into())]
        );
        assert_eq!(
            err("http-errors e\n errorfile 503\n"),
            vec![(
                2,
                "errorfile: expects <status_code> and <file> as arguments".into()
            )]
        );
        assert_eq!(
            err("http-errors e\n errorfile 503 /e/503.http\nhttp-errors e\n"),
            vec![(3, "http-errors section 'e' has the same name as another http-errors section declared at t.cfg:1".into())]
        );
        assert_eq!(
            err("http-errors e\n errorloc 503 /x\n"),
            vec![(
                2,
                "unknown keyword 'errorloc' in 'http-errors' section".into()
            )]
        );
    }

    #[test]
    fn errorfile_contents() {
        // Verdicts verified with haproxy 2.6 on the same files.
        assert!(check_errorfile(b"").is_ok());
        assert!(check_errorfile(b"HTTP/1.0 503 x\nContent-Type: text/html\n\nbody").is_ok());
        assert!(check_errorfile(b"HTTP/1.1 503\r\n\r\n").is_ok());
        assert!(check_errorfile(b"HTTP/1.0 503 x\r\nContent-Type: text/html\r\n").is_err());
        assert_eq!(
            check_errorfile(b"HTTP/2 503 x\r\n\r\n"),
            Err("invalid http version (HTTP/2)".into())
        );
        assert_eq!(
            check_errorfile(b"HTTP/1.1 503 x\r\nContent-Length: 3\r\n\r\nabcdef"),
            Err("payload size does not match the announced content-length (6 != 3)".into())
        );
    }

    #[test]
    fn caches() {
        let cfg = clean("cache c\n  total-max-size 4\n  max-object-size 10000\n  max-age 240\n  process-vary on\n  max-secondary-entries 5\n");
        let c = cfg.caches.first();
        assert_eq!(
            c.map(|c| (
                c.total_max_size_mb,
                c.max_object_size,
                c.max_age,
                c.process_vary,
                c.max_secondary_entries
            )),
            Some((Some(4), Some(10000), Some(240), Some(true), Some(5)))
        );
        // haproxy 2.6 verdicts.
        assert_eq!(
            only_error("cache c\n total-max-size 4\ncache c\n total-max-size 4\n").0,
            3
        );
        assert_eq!(
            only_error("cache c\n").1,
            "Size not specified for cache 'c'"
        );
        assert_eq!(
            only_error("cache c\n total-max-size 0\n").1,
            "Size not specified for cache 'c'"
        );
        // A bad size also leaves the cache without one (two errors).
        assert_eq!(
            first_error("cache c\n total-max-size 4096\n"),
            (
                2,
                "\"total-max-size\" (4096) must not be greater than 4095".into()
            )
        );
        assert_eq!(
            first_error("cache c\n total-max-size 4x\n"),
            (2, "total-max-size wrong value '4x'".into())
        );
        assert_eq!(
            only_error("cache c\n total-max-size 4\n max-object-size 3000000\n").1,
            "\"max-object-size\" is limited to an half of \"total-max-size\" => 2097152"
        );
        assert_eq!(
            only_error("cache c\n total-max-size 4\n max-secondary-entries 0\n").1,
            "max-secondary-entries wrong value '0'"
        );
        assert_eq!(
            only_error("cache c\n total-max-size 4\n foo\n"),
            (3, "unknown keyword 'foo' in 'cache' section".into())
        );
        assert_eq!(only_error("cache\n").0, 1);
        // Warnings only in HAProxy.
        assert_eq!(
            warnings("cache c\n total-max-size 4\n process-vary maybe\n").len(),
            1
        );
        assert_eq!(warnings("cache c/x\n total-max-size 4\n").len(), 1);
    }

    #[test]
    fn rings() {
        let cfg = clean(
            "ring myring\n  description \"My local buffer\"\n  format rfc5424\n  maxlen 1200\n  size 32764\n  \
             timeout connect 5s\n  timeout server 10s\n  server mysyslogsrv 127.0.0.1:6514 log-proto octet-count\n",
        );
        let r = cfg.rings.first();
        assert_eq!(
            r.and_then(|r| r.description.clone()).as_deref(),
            Some("My local buffer")
        );
        assert_eq!(
            r.map(|r| (r.format, r.maxlen, r.size)),
            Some((Some(LogWireFormat::Rfc5424), Some(1200), Some(32764)))
        );
        assert_eq!(r.map(|r| r.servers.len()), Some(1));
        assert_eq!(
            r.map(|r| r.timeout_server),
            Some(Some(Duration::from_secs(10)))
        );
        // haproxy 2.6 verdicts.
        assert_eq!(only_error("ring r\n size 1\nring r\n").0, 3);
        assert_eq!(
            only_error("ring buf0\n").1,
            "sink named 'buf0' already exists (it is built in)"
        );
        assert_eq!(only_error("ring\n").1, "missing ring name");
        assert_eq!(
            only_error("ring r\n format foo\n").1,
            "unknown format 'foo'"
        );
        assert_eq!(
            only_error("ring r\n maxlen 0\n").1,
            "invalid size '0' for new sink buffer"
        );
        assert_eq!(
            only_error("ring r\n timeout connect\n").1,
            "'timeout connect' expects <time> as argument"
        );
        assert_eq!(
            only_error("ring r/x\n").1,
            "character '/' is not permitted in 'ring' name 'r/x'"
        );
        assert_eq!(
            only_error("ring r\n server s\n").1,
            "'server' expects <name> and <addr>[:<port>] as arguments"
        );
        assert_eq!(
            only_error("ring r\n backing-file /a\n size 100000\n").1,
            "cannot resize an already mapped file, please specify 'size' before 'backing-file'"
        );
        // 3.2 accepts sizes below the buffer size and with units (2.6 did not).
        assert_eq!(
            clean("ring r\n size 100\n")
                .rings
                .first()
                .and_then(|r| r.size),
            Some(100)
        );
        assert_eq!(
            clean("ring r\n size 1m\n")
                .rings
                .first()
                .and_then(|r| r.size),
            Some(1 << 20)
        );
        // Warnings only (verified with 2.6).
        assert_eq!(warnings("ring r\n maxlen 100000\n").len(), 1);
        assert_eq!(warnings("ring r\n timeout foo 1s\n").len(), 1);
    }

    #[test]
    fn mailers_sections() {
        let cfg = clean("mailers m\n  mailer smtp1 192.168.0.1:587\n  mailer smtp2 mail.example.com:25\n  timeout mail 20s\n");
        let m = cfg.mailers.first();
        assert_eq!(
            m.map(|m| (m.mailers.len(), m.timeout_mail)),
            Some((2, Some(Duration::from_secs(20))))
        );
        // haproxy 2.6 wordings, same verdicts.
        assert_eq!(only_error("mailers m\nmailers m\n").0, 2);
        assert_eq!(
            only_error("mailers\n").1,
            "missing name for mailers section"
        );
        assert_eq!(
            only_error("mailers m\n mailer a\n").1,
            "'mailer' expects <name> and <addr>[:<port>] as arguments"
        );
        assert!(only_error("mailers m\n mailer a 127.0.0.1\n")
            .1
            .contains("missing port"));
        assert_eq!(
            only_error("mailers m\n mailer a/x 127.0.0.1:25\n").1,
            "character '/' is not permitted in server name 'a/x'"
        );
        assert_eq!(
            only_error("mailers m\n mailer a /tmp/sock\n").1,
            "'mailer a' : TCP not supported for this address family"
        );
        assert_eq!(
            only_error("mailers m\n timeout foo 1s\n").1,
            "'timeout' expects 'mail' and <time> as arguments got 'foo'"
        );
        assert_eq!(
            only_error("mailers m\n timeout mail\n").1,
            "'timeout mail' expects <time> as argument"
        );
    }

    #[test]
    fn programs() {
        let (cfg, d) = parse(
            "global\n  master-worker\nprogram p\n  command /usr/bin/dataplaneapi -f /etc/dp.yml\n  user root\n  group root\n  no option start-on-reload\n",
        );
        // The only diagnostic is the deprecation notice.
        assert_eq!(diags(&d).len(), 1, "{:?}", diags(&d));
        assert_eq!(d.list.first().map(|d| d.severity), Some(Severity::Notice));
        let prog = cfg.programs.first();
        assert_eq!(prog.map(|p| p.command.len()), Some(3));
        assert_eq!(
            prog.map(|p| (p.start_on_reload, p.user.clone())),
            Some((false, Some("root".into())))
        );
        // haproxy 2.6 verdicts.
        assert_eq!(
            only_error("global\n master-worker\nprogram p\n").1,
            "The program section 'p' lacks a command to launch"
        );
        assert_eq!(
            only_error("global\n master-worker\nprogram p\n command x\nprogram p\n command y\n").0,
            5
        );
        assert_eq!(
            only_error("global\n master-worker\nprogram p\n command x\n option foo\n").1,
            "unknown option 'foo'"
        );
        // Without master-worker: an error for HAProxy unless -W is given,
        // which only the binary knows.
        let (_, d) = parse("program p\n command x\n");
        assert!(!d.has_errors());
        assert_eq!(d.warnings().count(), 0);
    }

    #[test]
    fn other_sections() {
        let cfg = clean(
            "fcgi-app php\n  docroot /var/www\n  index index.php\n  option keep-conn\n  no option get-values\n  \
             set-param REDIRECT_STATUS 200\n\
             log-forward syslog\n  dgram-bind 127.0.0.1:1514\n  bind 127.0.0.1:1514\n  log 127.0.0.1:10514 local0\n  \
             maxconn 10\n  timeout client 10s\n\
             crt-store web\n  crt-base /etc/ssl\n  load crt site.pem key site.key\n\
             traces\n  trace h1 sink buf0 level developer\n\
             log-profile prof\n  on any format \"%ci\"\n",
        );
        let kinds: Vec<_> = cfg
            .other_sections
            .iter()
            .map(|s| (s.kind, s.directives.len()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Section::FcgiApp, 5),
                (Section::LogForward, 5),
                (Section::CrtStore, 2),
                (Section::Traces, 1),
                (Section::LogProfile, 1)
            ]
        );
        let names: Vec<_> = cfg
            .other_sections
            .iter()
            .map(|s| s.directives.first().map(|d| d.keyword.clone()))
            .collect();
        assert_eq!(
            names.get(1).cloned().flatten().as_deref(),
            Some("dgram-bind")
        );
        let no_get_values = cfg
            .other_sections
            .first()
            .and_then(|s| s.directives.get(3))
            .map(|d| d.keyword.clone());
        assert_eq!(no_get_values.as_deref(), Some("no option get-values"));
        let fcgi = cfg.other_sections.first().map(|s| {
            s.directives
                .iter()
                .map(|d| d.keyword.clone())
                .collect::<Vec<_>>()
        });
        assert_eq!(
            fcgi.and_then(|k| k.get(2).cloned()).as_deref(),
            Some("option keep-conn")
        );
        // Names, arity and unknown keywords are checked.
        assert_eq!(
            only_error("fcgi-app\n").1,
            "'fcgi-app' expects <name> as argument"
        );
        assert_eq!(only_error("fcgi-app a\nfcgi-app a\n").0, 2);
        assert_eq!(
            only_error("fcgi-app a\n docroot\n"),
            (2, "'docroot' expects 1 argument".into())
        );
        let (_, d) = parse("log-forward l\n maxcon 10\n");
        let e = d
            .errors()
            .next()
            .map(|e| (e.message.clone(), e.hint.clone()));
        assert_eq!(
            e,
            Some((
                "unknown keyword 'maxcon' in 'log-forward' section".into(),
                Some("did you mean 'maxconn'?".into())
            ))
        );
        // The acme section is experimental in 3.2.
        assert!(only_error("acme le\n directory https://x\n")
            .1
            .contains("experimental"));
        clean("global\n expose-experimental-directives\nacme le\n directory https://x\n");
    }

    #[test]
    fn modifiers_in_sections() {
        // Same rule as HAProxy: "no"/"default" only before option, log and
        // a few global flags.
        let (line, msg) = only_error("peers p\n no shards 2\n");
        assert_eq!(line, 2);
        assert!(msg.starts_with("negation/default"), "{msg}");
        let cfg = clean("peers p\n log stdout local0\n no log\n");
        assert_eq!(cfg.peers.first().map(|p| p.logs.len()), Some(0));
    }

    #[test]
    fn sections_open_even_with_errors() {
        // The lines of a broken section header stay in that section.
        let (cfg, d) = parse("resolvers\n nameserver a 127.0.0.1:53\n");
        assert_eq!(d.errors().count(), 1);
        assert_eq!(cfg.resolvers.first().map(|r| r.nameservers.len()), Some(1));
        assert!(matches!(
            Section::from_keyword("resolvers"),
            Some(Section::Resolvers)
        ));
    }

    #[test]
    fn no_panic_on_odd_words() {
        // Every keyword of the global section and of the sections handled
        // here, with odd arguments: diagnostics, never a panic.
        const ODD: &[&str] = &[
            "\"\"",
            "x",
            "-1",
            "0",
            "99999999999999999999",
            "a,,b",
            "/",
            "1-",
            "auto:1/1-",
            "@",
            "[::1]:",
            "gpc(",
            "len",
            "users",
            "password",
            "on",
            "1/65",
            "ipv6@",
            "fd@x",
            "0x",
        ];
        let host = TestHost::default();
        let mut texts = Vec::new();
        for k in crate::keywords::GLOBAL_KEYWORDS {
            for n in 0..4 {
                for (i, _) in ODD.iter().enumerate().step_by(3) {
                    let args: Vec<&str> = ODD.iter().cycle().skip(i).take(n).copied().collect();
                    texts.push(format!("global\n {} {}\n", k.name, args.join(" ")));
                }
            }
        }
        for k in crate::keywords::SECTION_KEYWORDS {
            for n in 0..5 {
                for (i, _) in ODD.iter().enumerate().step_by(2) {
                    let args: Vec<&str> = ODD.iter().cycle().skip(i).take(n).copied().collect();
                    texts.push(format!(
                        "{} s\n {} {}\n",
                        k.section.keyword(),
                        k.name,
                        args.join(" ")
                    ));
                }
            }
        }
        for t in &texts {
            let _ = parse_with(&host, t);
        }
        assert!(texts.len() > 1000);
    }
}
