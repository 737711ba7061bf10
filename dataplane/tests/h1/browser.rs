//! The stats page in a real browser: headless Chromium driven through
//! chromedriver (Debian's `chromium` and `chromium-driver`) by a small
//! WebDriver client. The page loads from ringlb, the test reads the
//! tables (one per proxy, the server rows) through the DOM, then ticks a
//! server, chooses "Set state to MAINT" and applies, as an operator
//! would; the server then gets no traffic.
//!
//! Without chromium or chromedriver the test fails under CI (ci/test
//! installs them) and is skipped with a note elsewhere.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{start, TempDir};
use crate::server::{ok, Client, Server};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, killed (by its own pid) when dropped.
struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = call(self.addr, "DELETE", &format!("/session/{s}"), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver command: its `value`.
fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // chromedriver keeps the connection after its answer despite the
    // close asked: read its Content-Length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let payload = loop {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the answer".into());
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if raw.len() >= end + 4 + len {
            break String::from_utf8_lossy(&raw[end + 4..end + 4 + len]).into_owned();
        }
    };
    let v: Value = serde_json::from_str(&payload).map_err(|e| format!("{e}: {payload}"))?;
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    if value.get("error").is_some() {
        return Err(format!("{method} {path}: {value}"));
    }
    Ok(value)
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        // Port 0: chromedriver says which port it took.
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(p) = line.split("started successfully on port ").nth(1) {
                    let _ = tx.send(p.trim_end_matches('.').parse::<u16>().ok());
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .flatten()
            .expect("chromedriver's port");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut d = Driver {
            child,
            addr,
            session: None,
        };
        let t = Instant::now();
        while let Err(e) = call(addr, "GET", "/status", None) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "chromedriver never answered: {e}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let v = call(addr, "POST", "/session", Some(&caps)).expect("a browser session");
        d.session = Some(v["sessionId"].as_str().expect("a session id").to_string());
        d
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let s = self.session.as_deref().unwrap();
        call(
            self.addr,
            method,
            &format!("/session/{s}{path}"),
            body.as_ref(),
        )
        .unwrap()
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Elements matching a CSS selector.
    fn find(&self, css: &str) -> Vec<String> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn attr(&self, el: &str, name: &str) -> String {
        self.cmd("GET", &format!("/element/{el}/attribute/{name}"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn text(&self, el: &str) -> String {
        self.cmd("GET", &format!("/element/{el}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn click(&self, el: &str) {
        self.cmd("POST", &format!("/element/{el}/click"), Some(json!({})));
    }
}

fn browser_present() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            !crate::harness::ci(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed (Debian: chromium chromium-driver; ci/test installs them)"
        );
        eprintln!("NOTE: the browser test needs {CHROMIUM} and {CHROMEDRIVER}: skipped");
    }
    present
}

#[test]
fn browser_sees_the_tables_and_puts_a_server_in_maintenance() {
    if !browser_present() {
        return;
    }
    let s1 = Server::start(|_| ok("one"));
    let s2 = Server::start(|_| ok("two"));
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind fd@3\n    stats enable\n    stats uri /st\n    stats admin if TRUE\n    \
         default_backend be\n\
         backend be\n    balance roundrobin\n    server s1 {}\n    server s2 {}\n",
        s1.addr, s2.addr
    );
    let p = start("ringlb", &crate::harness::ringlb(), &cfg);
    let profile = TempDir::new("chromium");
    let d = Driver::start(&profile.0);
    let base = format!("http://{}/st", p.addr);
    d.go(&base);
    // One table per proxy, named by its id.
    let ids: Vec<String> = d
        .find("table.tbl[id]")
        .iter()
        .map(|t| d.attr(t, "id"))
        .collect();
    assert_eq!(ids, ["fe", "be"], "a table per proxy");
    // The server rows of the backend: one tick box each, the name in the
    // row.
    let boxes = d.find("input[type=checkbox][name=s]");
    let names: Vec<String> = boxes.iter().map(|b| d.attr(b, "value")).collect();
    assert_eq!(names, ["s1", "s2"]);
    let rows: Vec<String> = d
        .find("tr.active_no_check td.ac")
        .iter()
        .map(|c| d.text(c))
        .collect();
    assert_eq!(rows, ["s1", "s2"], "both servers shown up");
    // Tick s1, choose maint, apply.
    d.click(&boxes[0]);
    let maint = d.find("select[name=action] option[value=maint]");
    assert_eq!(maint.len(), 1);
    d.click(&maint[0]);
    let apply = d.find("input[type=submit]");
    d.click(&apply[0]);
    let t = Instant::now();
    while !d.url().ends_with(";st=DONE") {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no redirect: {}",
            d.url()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rows: Vec<String> = d
        .find("tr.maintain td.ac")
        .iter()
        .map(|c| d.text(c))
        .collect();
    assert_eq!(rows, ["s1"], "s1 shown in maintenance");
    // Traffic goes to s2 only.
    for _ in 0..4 {
        let mut c = Client::connect(p.addr);
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let r = c.response(false);
        assert_eq!(r.body, b"two");
    }
    assert!(
        s1.nothing_within(Duration::from_millis(100)),
        "s1 got traffic in maintenance"
    );
}
