//! `ringlbctl`: a client for the runtime API (a `stats socket`), so no one
//! needs socat. `ringlbctl -S /run/ringlb.sock show info` sends one
//! command line (commands may be separated by `;`) and prints the answer;
//! without a command it opens an interactive prompt with history. `-S`
//! takes a UNIX path or a TCP `host:port` (`ipv4@`/`ipv6@` prefixes
//! accepted).

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
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

/// Interactive: the connection is put in interactive mode (`prompt i`),
/// each command's answer ends with an empty line.
fn interactive(args: &Args) -> Result<()> {
    let s = connect(&args.socket, Duration::from_secs(args.timeout))?;
    let mut reader = BufReader::new(s);
    reader.get_mut().write_all(b"prompt i\n")?;
    // `prompt i` answers with its empty line.
    let mut first = String::new();
    reader.read_line(&mut first)?;
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
        reader.get_mut().write_all(cmd.as_bytes())?;
        reader.get_mut().write_all(b"\n")?;
        // One empty line per command of the line ends its answer.
        let mut left = 1 + cmd.matches(';').count();
        while left > 0 {
            let mut l = String::new();
            if reader.read_line(&mut l)? == 0 {
                println!("(connection closed)");
                return Ok(());
            }
            if l == "\n" {
                left -= 1;
                continue;
            }
            print!("{l}");
        }
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
