//! Helpers shared by the corpus tests: where the corpus is, the `# env:`
//! line of each config, and running a program with a deadline.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long one `-c` run may take before it is killed.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// Inherited variables with this prefix are removed: the corpus's own variables
/// are set only by a config's `# env:` line, so "not set" cases stay not set.
pub const CORPUS_ENV_PREFIX: &str = "CORPUS_";

pub struct Outcome {
    /// None when the program was killed at the deadline.
    pub status: Option<ExitStatus>,
    pub output: String,
}

pub fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/tests/corpus");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()))
}

/// Corpus configs, sorted by file name.
pub fn corpus_configs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cfg"))
        .collect();
    names.sort();
    names
}

/// Environment variables from a `# env: A=1 B="x y" C=` first line.
pub fn env_of(config: &Path) -> Vec<(String, String)> {
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
pub fn run(program: &Path, args: &[&str], dir: &Path, env: &[(String, String)]) -> Outcome {
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
    // Wait for the exit on a thread; the deadline is a channel timeout.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let st = child.wait().ok();
        let _ = tx.send(st);
    });
    let status = match rx.recv_timeout(DEADLINE) {
        Ok(st) => st,
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            let _ = rx.recv_timeout(Duration::from_secs(5));
            None
        }
    };
    let _ = waiter.join();
    let mut output = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    output.push_str(&String::from_utf8_lossy(&out_reader.join().unwrap()));
    Outcome { status, output }
}
