//! `ringlbctl`: a client for the runtime API (a `stats socket`), so no one
//! needs socat. `ringlbctl -S /run/ringlb.sock show info` sends one
//! command line (commands may be separated by `;`) and prints the answer;
//! without a command it opens an interactive prompt with history (the
//! socket in `prompt` mode, each answer read up to the next `> `). `-S`
//! takes a UNIX path or a TCP `host:port` (`ipv4@`/`ipv6@` prefixes
//! accepted).

#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(version, about = "Client for ringlb's runtime API")]
struct Args {
    /// The socket: a UNIX path, or host:port for a TCP socket.
    #[arg(short = 'S', long = "socket", default_value = "/run/ringlb/admin.sock")]
    socket: String,
    /// Seconds to wait for an answer.
    #[arg(short = 't', long = "timeout", default_value_t = 30)]
    timeout: u64,
    /// The command to send (several words are joined with spaces).
    command: Vec<String>,
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect(addr: &str, timeout: Duration) -> Result<Box<dyn Stream>> {
    let tcp = addr
        .strip_prefix("ipv4@")
        .or_else(|| addr.strip_prefix("ipv6@"))
        .or_else(|| addr.strip_prefix("tcp@"));
    let unix = addr.strip_prefix("unix@").unwrap_or(addr);
    if tcp.is_some() || (!addr.contains('/') && addr.contains(':')) {
        let a = tcp.unwrap_or(addr);
        let s =
            std::net::TcpStream::connect(a).with_context(|| format!("cannot connect to {a}"))?;
        s.set_read_timeout(Some(timeout))?;
        return Ok(Box::new(s));
    }
    let s = std::os::unix::net::UnixStream::connect(unix)
        .with_context(|| format!("cannot connect to {unix}"))?;
    s.set_read_timeout(Some(timeout))?;
    Ok(Box::new(s))
}

/// One-shot: send the line, print everything until the server closes.
fn one_shot(args: &Args, line: &str) -> Result<()> {
    let mut s = connect(&args.socket, Duration::from_secs(args.timeout))?;
    s.write_all(line.as_bytes())?;
    s.write_all(b"\n")?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).context("reading the answer")?;
    std::io::stdout().write_all(&out)?;
    Ok(())
}

/// Read until the server's prompt (`> ` after a line end, or alone at
/// the start) and return what came before it.
fn until_prompt(s: &mut dyn Stream) -> Result<Option<String>> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if s.read(&mut byte)? == 0 {
            return Ok(None);
        }
        got.push(byte[0]);
        if got.ends_with(b"\n> ") || got == b"> " {
            got.truncate(got.len() - 2);
            return Ok(Some(String::from_utf8_lossy(&got).into_owned()));
        }
    }
}

/// Interactive: the connection is put in prompt mode (`prompt`, which
/// HAProxy 2.x and ringlb both take), each answer ends at the next `> `.
fn interactive(args: &Args) -> Result<()> {
    let mut s = connect(&args.socket, Duration::from_secs(args.timeout))?;
    s.write_all(b"prompt\n")?;
    if until_prompt(&mut *s)?.is_none() {
        anyhow::bail!("the server closed the connection");
    }
    let mut rl = rustyline::DefaultEditor::new()?;
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".ringlbctl_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    loop {
        let line = match rl.readline("> ") {
            Ok(l) => l,
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => break,
            Err(e) => return Err(e.into()),
        };
        let cmd = line.trim();
        if cmd.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(cmd);
        if cmd == "quit" || cmd == "exit" {
            break;
        }
        s.write_all(cmd.as_bytes())?;
        s.write_all(b"\n")?;
        match until_prompt(&mut *s)? {
            // The answer, without the empty line that ends it.
            Some(a) => print!("{}", a.strip_suffix('\n').unwrap_or(&a)),
            None => {
                println!("(connection closed)");
                break;
            }
        }
        std::io::stdout().flush()?;
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.command.is_empty() {
        interactive(&args)
    } else {
        one_shot(&args, &args.command.join(" "))
    }
}
