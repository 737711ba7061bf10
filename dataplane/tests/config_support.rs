//! The "not supported yet" honesty test.
//!
//! ringlb reads HAProxy's whole language (`-c --syntax-only`), but its engine
//! does not implement every setting yet. A full check (`ringlb -c`) must say
//! so, for each such setting, with one diagnostic of the shape
//!
//! ```text
//! <file>:<line>: error: <setting> is not supported yet ...
//! ```
//!
//! where `<setting>` is one of the keys printed by `ringlb --list-unsupported`
//! (one key per line: the single list kept in the code). Over the corpus
//! (config/tests/corpus/*.cfg) this test checks that:
//! - every "not supported yet" line has that shape and names a listed key;
//! - every listed key is hit by at least one corpus config (no stale entry);
//! - a config that `--syntax-only` accepts and that produced no such line
//!   passes `ringlb -c` (exit 0), and one that produced such a line fails it.
//!
//! Configs run with the corpus directory as working directory and with the
//! environment variables of their first line, `# env: NAME=value NAME2="a b"`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A run that does not finish within this is killed and reported.
const DEADLINE: Duration = Duration::from_secs(20);
/// The marker of an honest refusal.
const NOT_SUPPORTED: &str = "not supported yet";
/// How many output lines a report shows.
const REPORT_LINES: usize = 6;
/// Inherited variables with this prefix are removed: the corpus's own variables
/// are set only by a config's `# env:` line, so "not set" cases stay not set.
const CORPUS_ENV_PREFIX: &str = "CORPUS_";

#[derive(Debug)]
struct Outcome {
    /// None when the program was killed at the deadline.
    status: Option<ExitStatus>,
    output: String,
}

impl Outcome {
    fn describe(&self) -> String {
        match self.status {
            None => format!("timed out after {}s", DEADLINE.as_secs()),
            Some(st) => match st.code() {
                Some(c) => format!("exit {c}"),
                None => st.to_string(),
            },
        }
    }

    fn first_lines(&self) -> String {
        let lines: Vec<String> = self
            .output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(REPORT_LINES)
            .map(|l| format!("        | {l}"))
            .collect();
        if lines.is_empty() {
            "        (no output)".to_owned()
        } else {
            lines.join("\n")
        }
    }
}

fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tests/corpus");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()))
}

/// Corpus configs, sorted by file name.
fn corpus_configs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cfg"))
        .collect();
    names.sort();
    names
}

/// Environment variables from a `# env: A=1 B="x y" C=` first line.
fn env_of(config: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(config).unwrap_or_default();
    let Some(spec) = text.lines().next().and_then(|l| l.strip_prefix("# env:")) else {
        return Vec::new();
    };
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_quotes = false;
    let mut started = false;
    for c in spec.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                started = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    assert!(
        !in_quotes,
        "{}: unterminated quote in the # env: line",
        config.display()
    );
    if started {
        words.push(word);
    }
    words
        .into_iter()
        .map(|w| {
            let (name, value) = w.split_once('=').unwrap_or_else(|| {
                panic!(
                    "{}: '{w}' in the # env: line is not NAME=value",
                    config.display()
                )
            });
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// Runs a command with the corpus as working directory and the config's
/// environment, killing it (and its process group) at the deadline.
fn run(program: &Path, args: &[&str], dir: &Path, env: &[(String, String)]) -> Outcome {
    use std::os::unix::process::CommandExt;

    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Own process group, so that a timeout can end anything the program started.
    cmd.process_group(0);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(CORPUS_ENV_PREFIX) {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() >= DEADLINE {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut output = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    output.push_str(&String::from_utf8_lossy(&out_reader.join().unwrap()));
    Outcome { status, output }
}

/// The setting named by a `<file>:<line>: error: <setting> is not supported
/// yet ...` line, or why the line does not have that shape.
fn unsupported_setting<'a>(line: &'a str, config: &str) -> Result<&'a str, String> {
    let line = line.trim();
    let (place, rest) = line
        .split_once(": error: ")
        .ok_or("no ': error: ' after '<file>:<line>'")?;
    let (file, lineno) = place
        .rsplit_once(':')
        .ok_or("no '<file>:<line>' before ': error: '")?;
    if lineno.is_empty() || !lineno.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{lineno}' is not a line number"));
    }
    if file != config && !file.ends_with(&format!("/{config}")) {
        return Err(format!("the file '{file}' is not the config '{config}'"));
    }
    let (setting, _) = rest
        .split_once(&format!(" is {NOT_SUPPORTED}"))
        .ok_or_else(|| format!("no '<setting> is {NOT_SUPPORTED}' after 'error: '"))?;
    if setting.trim().is_empty() {
        return Err("empty setting".to_owned());
    }
    Ok(setting)
}

#[test]
fn unsupported_settings_are_reported_honestly() {
    let ringlb = Path::new(env!("CARGO_BIN_EXE_ringlb"));
    let dir = corpus_dir();
    let configs = corpus_configs(&dir);
    let mut problems = Vec::new();

    let listing = run(ringlb, &["--list-unsupported"], &dir, &[]);
    assert!(
        listing.status.is_some_and(|s| s.success()),
        "`ringlb --list-unsupported` failed ({}):\n{}",
        listing.describe(),
        listing.first_lines()
    );
    let mut keys = BTreeSet::new();
    for key in listing
        .output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if !keys.insert(key.to_owned()) {
            problems.push(format!("--list-unsupported prints '{key}' twice"));
        }
    }

    // key -> configs whose full check reported it.
    let mut hits: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut checked = 0usize;
    for name in &configs {
        let env = env_of(&dir.join(name));
        let syntax = run(ringlb, &["-c", "--syntax-only", "-f", name], &dir, &env);
        match syntax.status {
            None => {
                problems.push(format!(
                    "{name}: `ringlb -c --syntax-only` {}",
                    syntax.describe()
                ));
                continue;
            }
            Some(st) if !st.success() => continue,
            Some(_) => {}
        }
        checked += 1;
        let full = run(ringlb, &["-c", "-f", name], &dir, &env);
        let Some(status) = full.status else {
            problems.push(format!("{name}: `ringlb -c` {}", full.describe()));
            continue;
        };
        let mut refused = false;
        for line in full.output.lines().filter(|l| l.contains(NOT_SUPPORTED)) {
            refused = true;
            match unsupported_setting(line, name) {
                Err(why) => problems.push(format!(
                    "{name}: malformed '{NOT_SUPPORTED}' line ({why}); expected \
                     '<file>:<line>: error: <setting> is {NOT_SUPPORTED} ...':\n        | {line}"
                )),
                Ok(setting) if !keys.contains(setting) => problems.push(format!(
                    "{name}: '{setting}' is reported as {NOT_SUPPORTED} but is not printed by \
                     `ringlb --list-unsupported`:\n        | {line}"
                )),
                Ok(setting) => {
                    hits.entry(setting.to_owned())
                        .or_default()
                        .insert(name.clone());
                }
            }
        }
        if refused && status.success() {
            problems.push(format!(
                "{name}: `ringlb -c` reported '{NOT_SUPPORTED}' errors but exited 0:\n{}",
                full.first_lines()
            ));
        }
        if !refused && !status.success() {
            problems.push(format!(
                "{name}: accepted by --syntax-only, no '{NOT_SUPPORTED}' line, yet `ringlb -c` failed ({}):\n{}",
                full.describe(),
                full.first_lines()
            ));
        }
    }

    for key in &keys {
        if !hits.contains_key(key) {
            problems.push(format!(
                "'{key}' is printed by `ringlb --list-unsupported` but no corpus config hits it: \
                 add a config using it, or remove the stale entry"
            ));
        }
    }

    eprintln!(
        "config support: {} configs, {checked} accepted by --syntax-only, {} unsupported keys, {} hit",
        configs.len(),
        keys.len(),
        hits.len()
    );
    assert!(
        checked > 0,
        "ringlb --syntax-only accepted no corpus config: nothing was checked"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) in the support honesty test:\n\n{}\n",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn the_line_shape_is_parsed() {
    let ok = "real-grpc-h2.cfg:12: error: proto h2 is not supported yet (hint: remove it)";
    assert_eq!(unsupported_setting(ok, "real-grpc-h2.cfg"), Ok("proto h2"));
    let path = "/x/corpus/cache.cfg:3: error: cache is not supported yet";
    assert_eq!(unsupported_setting(path, "cache.cfg"), Ok("cache"));
    assert!(
        unsupported_setting("cache.cfg: error: cache is not supported yet", "cache.cfg").is_err()
    );
    assert!(unsupported_setting(
        "other.cfg:3: error: cache is not supported yet",
        "cache.cfg"
    )
    .is_err());
    assert!(unsupported_setting(
        "cache.cfg:3: warning: cache is not supported yet",
        "cache.cfg"
    )
    .is_err());
    assert!(unsupported_setting("cache.cfg:3: error:  is not supported yet", "cache.cfg").is_err());
}
