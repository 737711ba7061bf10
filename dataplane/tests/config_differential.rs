//! Differential test of the configuration checker: for every config of the
//! corpus (config/tests/corpus/*.cfg), `haproxy -c -f <cfg>` and
//! `ringlb -c --syntax-only -f <cfg>` must give the same verdict (exit status
//! 0 = valid, anything else = invalid).
//!
//! The expected verdict is whatever HAProxy says, never the file name (`bad-*`
//! is only a hint for humans). The installed HAProxy is Debian's 2.6 while
//! ringlb speaks HAProxy 3.2's language: the configs on which the two versions
//! disagree are listed in config/tests/corpus/EXPECTED-DIFFERENCES, and for
//! those (and only those) ringlb must give the opposite verdict of 2.6's.
//!
//! Both programs run with the corpus directory as working directory (configs
//! name their data files relative to it) and with the environment variables
//! of the config's first line, `# env: NAME=value NAME2="a b"`.
//!
//! Without `haproxy` on PATH the test is a loud no-op on a developer machine
//! and a failure under CI (CI set).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{corpus_configs, corpus_dir, env_of, run, Outcome, DEADLINE};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A config check that does not finish within this is killed and reported.
/// The corpus must stay broad enough to mean something.
const MIN_CONFIGS: usize = 70;
/// How many output lines a mismatch report shows per program.
const REPORT_LINES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    Invalid,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
        })
    }
}

impl Outcome {
    fn verdict(&self) -> Option<Verdict> {
        let status = self.status?;
        Some(if status.success() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        })
    }

    fn describe(&self) -> String {
        match self.status {
            None => format!("timed out after {}s", DEADLINE.as_secs()),
            Some(st) => match st.code() {
                Some(0) => "valid (exit 0)".to_owned(),
                Some(c) => format!("invalid (exit {c})"),
                None => format!("invalid ({st})"),
            },
        }
    }

    /// The first meaningful lines of output, without HAProxy's banner.
    fn first_lines(&self) -> String {
        let lines: Vec<&str> = self
            .output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| !l.contains("haproxy version is") && !l.contains("path to executable is"))
            .take(REPORT_LINES)
            .collect();
        if lines.is_empty() {
            "        (no output)".to_owned()
        } else {
            lines
                .iter()
                .map(|l| format!("        | {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
}

/// EXPECTED-DIFFERENCES: file name -> (keyword, reason).
fn expected_differences(
    dir: &Path,
    configs: &[String],
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let path = dir.join("EXPECTED-DIFFERENCES");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (file, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let (keyword, reason) = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .unwrap_or((rest.trim_start(), ""));
        let reason = reason.trim();
        let at = format!("EXPECTED-DIFFERENCES:{}", i + 1);
        if keyword.is_empty() || reason.is_empty() {
            problems.push(format!(
                "{at}: expected '<file.cfg> <keyword> <reason>', got '{line}'"
            ));
        } else if !configs.iter().any(|c| c == file) {
            problems.push(format!("{at}: '{file}' is not a corpus config"));
        } else if map.insert(file.to_owned(), keyword.to_owned()).is_some() {
            problems.push(format!("{at}: '{file}' is listed twice"));
        }
    }
    map
}

#[test]
fn ringlb_and_haproxy_agree_on_the_corpus() {
    let Some(haproxy) = std::env::var_os("HAPROXY")
        .map(PathBuf::from)
        .or_else(|| find_on_path("haproxy"))
    else {
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
            panic!("haproxy is not on PATH: CI must install it (Debian package 'haproxy') to run the differential test");
        }
        // Written to the stderr handle, not with eprintln!: the test harness
        // captures the print macros of passing tests, and this must be seen.
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n\
             ############################################################################\n\
             ## NOTE: haproxy is not on PATH: the config differential test did NOT run. ##\n\
             ## Install Debian's 'haproxy' package (CI fails without it).               ##\n\
             ############################################################################\n"
        );
        return;
    };
    let ringlb = Path::new(env!("CARGO_BIN_EXE_ringlb"));
    let dir = corpus_dir();
    let configs = corpus_configs(&dir);
    let mut problems = Vec::new();
    let expected = expected_differences(&dir, &configs, &mut problems);

    assert!(
        configs.len() >= MIN_CONFIGS,
        "the corpus has {} configs, at least {MIN_CONFIGS} are expected",
        configs.len()
    );

    let mut mismatches = Vec::new();
    let mut haproxy_seen = (0usize, 0usize);
    let mut ringlb_seen = (0usize, 0usize);
    for name in &configs {
        let env = env_of(&dir.join(name));
        let theirs = run(&haproxy, &["-c", "-f", name], &dir, &env);
        let ours = run(ringlb, &["-c", "--syntax-only", "-f", name], &dir, &env);
        let (Some(h), Some(r)) = (theirs.verdict(), ours.verdict()) else {
            problems.push(format!(
                "{name}: a check did not finish\n    haproxy: {}\n    ringlb:  {}",
                theirs.describe(),
                ours.describe()
            ));
            continue;
        };
        match h {
            Verdict::Valid => haproxy_seen.0 += 1,
            Verdict::Invalid => haproxy_seen.1 += 1,
        }
        match r {
            Verdict::Valid => ringlb_seen.0 += 1,
            Verdict::Invalid => ringlb_seen.1 += 1,
        }
        let listed = expected.get(name);
        let wrong = match listed {
            None => h != r,
            Some(_) => h == r,
        };
        if wrong {
            let why = match listed {
                None => "verdicts differ".to_owned(),
                Some(kw) => format!(
                    "listed in EXPECTED-DIFFERENCES ({kw}) but the verdicts agree: fix ringlb or remove the stale entry"
                ),
            };
            mismatches.push(format!(
                "{name}: {why}\n    haproxy -c: {}\n{}\n    ringlb -c --syntax-only: {}\n{}",
                theirs.describe(),
                theirs.first_lines(),
                ours.describe(),
                ours.first_lines()
            ));
        }
    }

    if haproxy_seen.0 == 0 || haproxy_seen.1 == 0 {
        problems.push(format!(
            "the corpus must hold both valid and invalid configs; haproxy says {} valid, {} invalid",
            haproxy_seen.0, haproxy_seen.1
        ));
    }
    if ringlb_seen.0 == 0 || ringlb_seen.1 == 0 {
        problems.push(format!(
            "ringlb gave a single verdict for the whole corpus: {} valid, {} invalid",
            ringlb_seen.0, ringlb_seen.1
        ));
    }

    eprintln!(
        "config corpus: {} configs; haproxy: {} valid, {} invalid; ringlb: {} valid, {} invalid; {} mismatches",
        configs.len(),
        haproxy_seen.0,
        haproxy_seen.1,
        ringlb_seen.0,
        ringlb_seen.1,
        mismatches.len()
    );
    problems.extend(mismatches);
    assert!(
        problems.is_empty(),
        "{} problem(s) in the config differential test (haproxy: {}):\n\n{}\n",
        problems.len(),
        haproxy.display(),
        problems.join("\n\n")
    );
}
