//! Daemon mode (`daemon` / `-D`) without fork(2), which this crate cannot
//! call (`forbid(unsafe_code)`, and forking a multi-threaded process is
//! unsound anyway).
//!
//! HAProxy forks early, the child calls setsid(), and the parent (the
//! "launcher") blocks on a pipe until the child writes "READY" once its
//! listeners are bound; if the pipe closes first, the launcher reaps the
//! child and exits with its code (`apply_daemon_mode`).
//!
//! ringlb does the same with a re-exec: the launcher runs this very binary
//! again (`/proc/self/exe`, same argv and argv[0], same cwd and
//! environment plus [`DAEMON_ENV`]), with stdin on /dev/null, stderr
//! inherited (start-up alerts still reach the terminal, as with HAProxy's
//! fork) and stdout on a pipe: that pipe is the readiness channel, and the
//! only one std can hand to a child without `unsafe`. The child calls
//! [`daemon_child_start`] (setsid, drop the marker), starts, and calls
//! [`DaemonChild::ready`], which writes a marker on stdout and then points
//! fds 0, 1 and 2 at /dev/null (HAProxy's `stdio_quiet`). The launcher
//! copies whatever the child prints before the marker to its own stdout,
//! returns 0 on the marker, or reaps the child and returns its code if
//! stdout closes without it. No pid file, temp socket or deadline is
//! needed: the pipe closes by itself if the child dies.

use std::fs::File;
use std::io::{self, Read as _, Write};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};

/// Environment marker of the daemonized copy (value "1").
pub const DAEMON_ENV: &str = "RINGLB_DAEMONIZED";

/// Written by the child on its stdout when ready; a NUL starts it so that no
/// text output can end with it by accident.
const READY: &[u8] = b"\0ringlb: ready\n";

/// True in the copy started by [`daemonize`]: it must not daemonize again.
pub fn is_daemon_child() -> bool {
    std::env::var_os(DAEMON_ENV).is_some_and(|v| v == "1")
}

/// The launcher side. Runs the daemon copy and waits until it is ready or
/// dead; returns the exit code for the launcher (`main` returns it):
/// 0 once the child is ready, else the child's code (128 + signal when
/// killed), with HAProxy's alert "Process <pid> exited with code <n> (...)"
/// on stderr. Call after the configuration was read and checked (so that
/// errors come from the launcher), before binding anything.
pub fn daemonize() -> Result<ExitCode, String> {
    let mut args = std::env::args_os();
    let arg0 = args.next();
    let program = if std::path::Path::new("/proc/self/exe").exists() {
        // Still the right binary if a package upgrade replaced the file.
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().map_err(|e| format!("cannot find our own executable: {e}"))?
    };
    let mut cmd = Command::new(program);
    if let Some(a0) = arg0 {
        cmd.arg0(a0);
    }
    cmd.args(args).env(DAEMON_ENV, "1");
    let mut out = io::stdout();
    match launch(cmd, &mut out)? {
        Launch::Ready(_) => Ok(ExitCode::SUCCESS),
        Launch::Exited { pid, status } => {
            let code = exit_code(status);
            let what = match status.signal() {
                Some(sig) => {
                    nix::sys::signal::Signal::try_from(sig).map_or("Signal", |s| s.as_str())
                }
                None => "Exit",
            };
            crate::stderr_line!("[ALERT] Process {pid} exited with code {code} ({what})");
            Ok(ExitCode::from(launcher_code(code)))
        }
    }
}

/// What the launcher saw.
#[derive(Debug)]
enum Launch {
    /// The marker arrived; the child runs on (the launcher does not reap it).
    Ready(Child),
    /// Stdout closed without the marker.
    Exited { pid: u32, status: ExitStatus },
}

fn launch(mut cmd: Command, out: &mut dyn Write) -> Result<Launch, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the daemon process: {e}"))?;
    let Some(mut pipe) = child.stdout.take() else {
        return Err("cannot read the daemon process's status".into());
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot read the daemon process's status: {e}")),
        };
        if n == 0 {
            let _ = out.write_all(&pending);
            let _ = out.flush();
            let pid = child.id();
            let status = child.wait().map_err(|e| format!("waitpid() failed: {e}"))?;
            return Ok(Launch::Exited { pid, status });
        }
        pending.extend_from_slice(buf.get(..n).unwrap_or_default());
        if let Some(at) = find(&pending, READY) {
            // Normally the last bytes; anything around it (a thread that
            // printed meanwhile) is still relayed.
            let _ = out.write_all(pending.get(..at).unwrap_or_default());
            let _ = out.write_all(pending.get(at + READY.len()..).unwrap_or_default());
            let _ = out.flush();
            return Ok(Launch::Ready(child));
        }
        // Relay all but what could be the start of a split marker.
        let keep = READY.len().saturating_sub(1).min(pending.len());
        let flush_to = pending.len() - keep;
        let _ = out.write_all(pending.get(..flush_to).unwrap_or_default());
        let _ = out.flush();
        pending.drain(..flush_to);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// HAProxy's view of a child's end: its exit code, 128 + signal if killed.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(255),
        (None, Some(s)) => u8::try_from(128 + s).unwrap_or(255),
        (None, None) => 255,
    }
}

/// HAProxy's launcher exits 0 for a child that exited 0 or was killed by
/// SIGTERM (143: stopped on purpose before being ready), else with its code.
fn launcher_code(code: u8) -> u8 {
    if code == 143 {
        0
    } else {
        code
    }
}

/// The daemonized copy, until it reports ready.
#[derive(Debug)]
pub struct DaemonChild {
    _private: (),
}

/// First thing the daemon copy does (before spawning any thread): leave the
/// launcher's session and terminal (setsid, as HAProxy's child does) and
/// drop [`DAEMON_ENV`] so that processes we start (external checks,
/// programs, a master-worker re-exec) do not inherit it.
pub fn daemon_child_start() -> Result<DaemonChild, String> {
    nix::unistd::setsid()
        .map_err(|e| format!("cannot detach from the terminal (setsid): {}", e.desc()))?;
    // Edition 2021: a safe call; sound here because no other thread runs yet.
    std::env::remove_var(DAEMON_ENV);
    Ok(DaemonChild { _private: () })
}

impl DaemonChild {
    /// Everything is bound and running: release the launcher and detach
    /// stdin/stdout/stderr (to /dev/null). Write-side errors are ignored: a
    /// launcher that was killed meanwhile is no reason to stop.
    pub fn ready(self) -> Result<(), String> {
        {
            let mut stdout = io::stdout().lock();
            let _ = stdout.flush();
            let _ = stdout.write_all(READY);
            let _ = stdout.flush();
        }
        let _ = io::stderr().flush();
        let null = File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| format!("Cannot open /dev/null: {e}"))?;
        let quiet = |e: nix::errno::Errno| format!("cannot detach standard streams: {}", e.desc());
        nix::unistd::dup2_stdin(&null).map_err(quiet)?;
        nix::unistd::dup2_stdout(&null).map_err(quiet)?;
        nix::unistd::dup2_stderr(&null).map_err(quiet)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO_ENV: &str = "RINGLB_TEST_DAEMON_CHILD";

    fn child_cmd(test: &str, scenario: &str) -> Command {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args([
            "--exact",
            &format!("process::daemon::tests::{test}"),
            "--nocapture",
            "--test-threads=1",
        ]);
        cmd.env(SCENARIO_ENV, scenario).env(DAEMON_ENV, "1");
        cmd
    }

    /// Child scenario (no-op as a plain test): start as a daemon copy, say
    /// who we are, report ready, and check that stdout is gone.
    #[test]
    fn child_daemon_copy() {
        let Ok(scenario) = std::env::var(SCENARIO_ENV) else {
            return;
        };
        assert!(is_daemon_child());
        let c = daemon_child_start().unwrap();
        assert!(!is_daemon_child(), "the marker is not inherited further");
        let pid = nix::unistd::getpid();
        let sid = nix::unistd::getsid(None).unwrap();
        println!("child pid={pid} sid={sid}");
        match scenario.as_str() {
            "ready" => {
                c.ready().unwrap();
                // Would reach the launcher if stdout were still the pipe.
                println!("after ready");
            }
            "fail" => {
                eprintln!("child: failing before ready, as the test expects");
                std::process::exit(3);
            }
            other => panic!("unknown scenario {other}"),
        }
    }

    #[test]
    fn launcher_returns_when_the_child_is_ready() {
        let mut out = Vec::new();
        let launch = launch(child_cmd("child_daemon_copy", "ready"), &mut out).unwrap();
        let Launch::Ready(mut child) = launch else {
            panic!("{launch:?}")
        };
        let text = String::from_utf8(out).unwrap();
        let pid = child.id();
        assert!(
            text.contains(&format!("child pid={pid} sid={pid}\n")),
            "new session led by the child: {text}"
        );
        assert!(!text.contains("after ready"), "{text}");
        assert!(!text.contains('\0'), "marker not relayed");
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn launcher_reports_a_child_that_died_before_ready() {
        let mut out = Vec::new();
        let launch = launch(child_cmd("child_daemon_copy", "fail"), &mut out).unwrap();
        let Launch::Exited { status, .. } = launch else {
            panic!("{launch:?}")
        };
        assert_eq!(exit_code(status), 3);
        assert_eq!(launcher_code(exit_code(status)), 3);
        assert!(String::from_utf8(out).unwrap().contains("child pid="));
    }

    #[test]
    fn marker_split_across_reads_and_plain_output() {
        // A shell stands in for the child: output, then the marker in two
        // writes, then a long pause that the launcher must not wait for.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            r"printf 'hello\n'; printf '\000ringlb:'; printf ' ready\n'; exec sleep 30",
        ]);
        let mut out = Vec::new();
        let launch = launch(cmd, &mut out).unwrap();
        let Launch::Ready(mut child) = launch else {
            panic!("{launch:?}")
        };
        assert_eq!(out, b"hello\n");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn exit_codes_like_haproxy() {
        let mut sh = Command::new("sh");
        sh.args(["-c", "kill -TERM $$"]);
        let status = sh.status().unwrap();
        assert_eq!(exit_code(status), 143);
        assert_eq!(
            launcher_code(143),
            0,
            "HAProxy's launcher exits 0 for SIGTERM"
        );
        let status = Command::new("sh").args(["-c", "exit 0"]).status().unwrap();
        assert_eq!(launcher_code(exit_code(status)), 0);
        let status = Command::new("sh")
            .args(["-c", "kill -KILL $$"])
            .status()
            .unwrap();
        assert_eq!(launcher_code(exit_code(status)), 137);
    }
}
