//! What the rules and the log know about a stream's addresses and its
//! timing: `dst` / `src` in HTTP rules whatever the log prints, `option
//! logasap`.

use std::path::Path;

use crate::harness::start;
use crate::server::{config, Client};

/// `%[dst]` in a rule is the address the client reached even when the
/// log line prints neither `%fi` nor `%fp` (ringlb used to ask the socket
/// only for the log's sake, and the rule found nothing).
fn dst_in_rules(name: &str, program: &Path) {
    let cfg = config(&[], "").replace("    option httplog\n", "").replace(
        "frontend fe\n",
        "frontend fe\n    log-format %ST\n    \
         http-request return status 200 content-type text/plain lf-string \"%[dst]:%[dst_port] %[src]\"\n",
    );
    let p = start(name, program, &cfg);
    let mut c = Client::connect(p.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let r = c.response(false);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        format!("127.0.0.1:{} 127.0.0.1", p.addr.port()),
        "{name}"
    );
    assert_eq!(p.next_log(), "200", "{name}");
}
on_both!(
    dst_in_rules,
    dst_in_rules_on_haproxy,
    dst_in_rules_on_ringlb
);
