//! The stats page (`stats enable`, `stats uri` ...): HAProxy intercepts a
//! request whose path starts with the stats URI and answers it from the
//! proxy itself (its stats applet, src/stats.c `http_stats_io_handler`):
//! HTML in HAProxy's layout (one table per proxy, rows coloured by state),
//! or the CSV (`;csv`), or JSON (`;json`); `;up` hides the servers that
//! are down, `;norefresh` drops the refresh; `stats auth` asks for Basic
//! credentials in `stats realm`; with `stats admin`, a POST changes
//! servers' states (`action=ready|drain|maint`, the names in `s=`, the
//! backend in `b=#<iid>`).

use ringlb_proto::form;
use std::fmt::Write as _;

use super::{fields as f, PageConf, Row};
use crate::engine::runtime::Core;
use crate::engine::Process;

/// What the page answers: the whole HTTP/1.1 response, and whether the
/// connection may serve another request after it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub bytes: Vec<u8>,
    pub keep_alive: bool,
}

/// The request, as the stream saw it.
#[derive(Debug)]
pub struct PageReq<'a> {
    pub post: bool,
    /// The request URI.
    pub uri: &'a [u8],
    /// The `Authorization` header's value.
    pub authorization: Option<&'a [u8]>,
    /// The POST body (the form).
    pub body: &'a [u8],
    /// The body came whole (it fit in the buffer).
    pub whole: bool,
    /// A `stats admin` condition holds.
    pub admin: bool,
    /// The client's connection ends after this answer (HTTP/1.0 without
    /// keep-alive, `Connection: close`, a stopping process).
    pub close: bool,
    /// The request is HTTP/1.0.
    pub http10: bool,
}

/// Whether `uri` asks for the page at `conf.uri` (HAProxy compares the
/// start of the URI).
pub fn matches(conf: &PageConf, uri: &[u8]) -> bool {
    uri.starts_with(conf.uri.as_bytes())
}

/// A response with a length, its headers in HAProxy's order (the
/// redirect after a POST: stats_send_http_redirect); `connection: close`
/// last when the client leaves.
fn response(req: &PageReq<'_>, status: u16, reason: &str, headers: &str, body: &str) -> Reply {
    let close = if req.close {
        "connection: close\r\n"
    } else {
        ""
    };
    let mut s = format!("HTTP/1.1 {status} {reason}\r\n{headers}{close}\r\n");
    s.push_str(body);
    Reply {
        status,
        bytes: s.into_bytes(),
        keep_alive: !req.close,
    }
}

/// A 200 with a chunked body, as HAProxy's stats applet streams it
/// (stats_send_http_headers): the client keeps its connection.
fn chunked(req: &PageReq<'_>, ctype: &str, refresh: &str, body: &str) -> Reply {
    let mut s =
        format!("HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: {ctype}\r\n{refresh}");
    // The h1 mux puts an HTTP/1.0 client's close before the
    // transfer-encoding it adds, an HTTP/1.1 client's after it.
    match (req.close, req.http10) {
        (true, true) => s.push_str("connection: close\r\ntransfer-encoding: chunked\r\n"),
        (true, false) => s.push_str("transfer-encoding: chunked\r\nconnection: close\r\n"),
        (false, _) => s.push_str("transfer-encoding: chunked\r\n"),
    }
    s.push_str("\r\n");
    // Chunks of at most a buffer's worth, as the applet fills them.
    const CHUNK: usize = 16 * 1024;
    let b = body.as_bytes();
    let mut bytes = s.into_bytes();
    bytes.reserve(b.len() + b.len() / CHUNK * 8 + 16);
    for part in b.chunks(CHUNK) {
        bytes.extend_from_slice(format!("{:X}\r\n", part.len()).as_bytes());
        bytes.extend_from_slice(part);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    Reply {
        status: 200,
        bytes,
        keep_alive: !req.close,
    }
}

fn authorized(conf: &PageConf, header: Option<&[u8]>) -> bool {
    if conf.auth.is_empty() {
        return true;
    }
    let Some(h) = header else { return false };
    let h = h.trim_ascii();
    let Some(b64) = h
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case(b"basic "))
        .and_then(|_| h.get(6..))
    else {
        return false;
    };
    let Some(plain) = crate::engine::rules::sample::b64dec(b64.trim_ascii()) else {
        return false;
    };
    let Ok(plain) = std::str::from_utf8(&plain) else {
        return false;
    };
    let Some((user, pass)) = plain.split_once(':') else {
        return false;
    };
    conf.auth.iter().any(|(u, p)| u == user && p == pass)
}

/// Answer a request for the page of frontend `fe`.
pub fn serve(core: &Core, conf: &PageConf, req: &PageReq<'_>) -> Reply {
    let process: &Process = &core.shared;
    if !authorized(conf, req.authorization) {
        // HAProxy's 401 (an http_reply): its length first, and the
        // connection closes after it.
        let body = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";
        let headers = format!(
            "content-length: {}\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nwww-authenticate: Basic realm=\"{}\"\r\n",
            body.len(),
            conf.realm
        );
        let mut r = response(req, 401, "Unauthorized", &headers, body);
        r.keep_alive = false;
        return r;
    }
    let uri = String::from_utf8_lossy(req.uri);
    let rest = uri.get(conf.uri.len()..).unwrap_or("");
    let has = |w: &str| rest.split(';').any(|p| p == w);
    if req.post {
        let st = if req.admin {
            admin_action(core, req.body, req.whole)
        } else {
            "DENY"
        };
        let headers = format!(
            "cache-control: no-cache\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nlocation: {};st={st}\r\n",
            conf.uri
        );
        return response(req, 303, "See Other", &headers, "");
    }
    let mut o = super::Opts {
        legends: conf.show_legends,
        hide_down: has("up"),
        ..super::Opts::default()
    };
    let refresh = conf
        .refresh
        .filter(|_| !has("norefresh"))
        .map(|r| format!("refresh: {r}\r\n"))
        .unwrap_or_default();
    if has("csv") {
        let body = super::render(process, &o, &conf.scope);
        return chunked(req, "text/plain", &refresh, &body);
    }
    if has("json") {
        o.json = true;
        let body = super::render(process, &o, &conf.scope);
        return chunked(req, "application/json", &refresh, &body);
    }
    let body = html(process, conf, &o, req.admin, rest);
    chunked(req, "text/html", &refresh, &body)
}

/// Whether a POST's form fits where HAProxy's stats applet reads it: the
/// request as HTX holds it (`htx_size`, the head's blocks and the body's
/// data block, 8 bytes a block) must fit in the buffer less its reserve
/// (`maxrewrite`), or HAProxy answers EXCD. The 48 bytes are the rest of
/// HTX's own overhead, measured on haproxy 2.6 (the limit moves by one
/// byte per byte of head or body, and by 14 per `X: v` header).
pub fn form_fits(
    htx_size: u64,
    fields: usize,
    body: usize,
    (bufsize, maxrewrite): (usize, usize),
) -> bool {
    let need = htx_size + 8 * (fields as u64 + 3) + body as u64;
    let room = bufsize.saturating_sub(maxrewrite).saturating_sub(48) as u64;
    need <= room
}

/// stats_process_http_post: `b=#<iid>&s=<server>...&action=<action>`;
/// the `st=` word of the redirect. `whole`: the body came whole (HAProxy
/// answers EXCD when it does not fit in its buffer). As HAProxy, the
/// parameters are read from the last one back (the backend and the action
/// come last in the form), the first `b` and `action` met win, and a
/// server met before both are known is taken again once they are.
fn admin_action(core: &Core, body: &[u8], whole: bool) -> &'static str {
    if !whole {
        return "EXCD";
    }
    let process: &Process = &core.shared;
    let params = form::params(body);
    let mut backend: Option<usize> = None;
    let mut action: Option<String> = None;
    // The first server parameter met before the backend and the action.
    let mut reprocess: Option<usize> = None;
    let (mut altered, mut total) = (0, 0);
    let mut i = params.len();
    while i > 0 {
        i -= 1;
        let Some(param) = params.get(i) else { break };
        let (key, value) = match form::param(param) {
            Ok(kv) => kv,
            Err(form::Bad::TooLong) => return "ERRP",
            Err(form::Bad::Escape) => break,
        };
        match key.as_str() {
            "b" if backend.is_none() => {
                // proxy_be_by_name: `#<id>` or a name, of a proxy that
                // has a backend.
                let found = process.plan.stats.proxies.iter().find(|p| {
                    p.be.is_some()
                        && value
                            .strip_prefix('#')
                            .map_or(p.name == value, |n| i64::from(p.iid) == atoi(n))
                });
                match found.and_then(|p| p.be) {
                    Some(b) => backend = Some(b),
                    None => return "ERRP",
                }
            }
            "action" if action.is_none() => {
                const KNOWN: [&str; 17] = [
                    "ready", "drain", "maint", "shutdown", "dhlth", "ehlth", "hrunn", "hnolb",
                    "hdown", "dagent", "eagent", "arunn", "adown", "disable", "enable", "stop",
                    "start",
                ];
                if !KNOWN.contains(&value.as_str()) {
                    return "ERRP";
                }
                action = Some(value);
            }
            "s" => match (backend, action.as_deref()) {
                (Some(b), Some(a)) => match server_action(core, b, &value, a) {
                    Some(true) => {
                        altered += 1;
                        total += 1;
                    }
                    Some(false) => {}
                    // An unknown server counts as not altered.
                    None => total += 1,
                },
                _ => {
                    reprocess.get_or_insert(i);
                }
            },
            _ => {}
        }
        if let (Some(at), Some(_), Some(_)) = (reprocess, backend, &action) {
            // Back to the first server met, which is read again.
            reprocess = None;
            i = at + 1;
        }
    }
    // stats_process_http_post's verdict.
    if total == 0 {
        "NONE"
    } else if altered == 0 {
        "ERRP"
    } else if altered == total {
        "DONE"
    } else {
        "PART"
    }
}

/// C's atoi.
fn atoi(s: &str) -> i64 {
    super::atoi(s)
}

/// One server's share of a POST's `action` on backend `b`: Some(true)
/// when it was altered, Some(false) when the action does not apply to it
/// (not counted), None for an unknown server. HAProxy 2.6's actions:
/// ready, drain and maint go through the checks' admin functions
/// (HAProxy's lines, trackers, slow start); shutdown kills the server's
/// streams (K); the health and agent ones act on the checks as the
/// runtime API's commands do. The old `disable`, `enable`, `stop` and
/// `start` alter nothing.
fn server_action(core: &Core, b: usize, name: &str, action: &str) -> Option<bool> {
    use crate::engine::checks::{self, health::Transition};
    const WHY: &str = "changed from Web interface";
    let process: &Process = &core.shared;
    let be = process.plan.backends.get(b)?;
    let si = be
        .servers
        .iter()
        .position(|s| !s.is_vacant() && s.conf().name == name)?;
    Some(match action {
        "ready" | "drain" | "maint" => {
            checks::admin::set_admin_state(core, b, si, action);
            true
        }
        "shutdown" => {
            process.shutdown_streams(b, si, crate::log::termination::Cause::Killed);
            true
        }
        // A forced health applies to a server that tracks none (HAProxy's
        // `!sv->track`).
        "hrunn" | "hnolb" | "hdown" if super::tracks(process, b, si).is_none() => {
            let to = match action {
                "hrunn" => Transition::Up,
                "hnolb" => Transition::Stopping,
                _ => Transition::Down,
            };
            checks::force_health(core, b, si, to, WHY);
            true
        }
        "dhlth" | "ehlth" => checks::enable(core, b, si, false, action == "ehlth"),
        "dagent" | "eagent" => checks::enable(core, b, si, true, action == "eagent"),
        "arunn" | "adown" => checks::force_agent(core, b, si, action == "arunn", WHY),
        _ => false,
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The row's class (HAProxy's `srv_hlt_st` colour classes).
fn row_class(row: &Row) -> &'static str {
    let status = super::row_text(row, f::STATUS);
    match row.kind {
        super::Kind::Fe => "frontend",
        super::Kind::So => "socket",
        super::Kind::Be => {
            if status.starts_with("UP") {
                "backend"
            } else {
                "backend down"
            }
        }
        super::Kind::Sv => {
            if status.starts_with("MAINT") {
                "maintain"
            } else if status.starts_with("DRAIN") {
                "draining"
            } else if status.starts_with("NOLB") {
                "active_nolb"
            } else if status.starts_with("DOWN") {
                "active_down"
            } else if status.contains('/') && status.starts_with("UP") {
                "active_going_down"
            } else if status.contains('/') {
                "active_going_up"
            } else if status == "no check" {
                "active_no_check"
            } else {
                "active_up"
            }
        }
    }
}

const STYLE: &str = "body {font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}\n\
th,td {font-size: 10px;}\n\
table.tbl { border-collapse: collapse; border-style: none;}\n\
table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}\n\
table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}\n\
.px { background: #b0b0ff; }\n\
.titre {background: #20D0D0;color: #000000; font-weight: bold; text-align: center;}\n\
.total {background: #20D0D0;color: #ffff80;}\n\
.frontend {background: #e8e8d0;}\n\
.socket {background: #d0d0d0;}\n\
.backend {background: #e8e8d0;}\n\
.active_down {background: #ff9090;}\n\
.active_going_up {background: #ffd020;}\n\
.active_going_down {background: #ffffa0;}\n\
.active_up {background: #c0ffc0;}\n\
.active_nolb {background: #20a0ff;}\n\
.active_draining {background: #20a0FF;}\n\
.active_no_check {background: #e0e0e0;}\n\
.draining {background: #20a0FF;}\n\
.maintain {background: #c07820;}\n\
.backend.down {background: #ff9090;}\n";

/// The columns of the HTML tables: (title, field).
const COLUMNS: [(&str, usize); 20] = [
    ("Cur", f::QCUR),
    ("Max", f::QMAX),
    ("Limit", f::QLIMIT),
    ("Cur", f::RATE),
    ("Max", f::RATE_MAX),
    ("Limit", f::RATE_LIM),
    ("Cur", f::SCUR),
    ("Max", f::SMAX),
    ("Limit", f::SLIM),
    ("Total", f::STOT),
    ("LbTot", f::LBTOT),
    ("Last", f::LASTSESS),
    ("In", f::BIN),
    ("Out", f::BOUT),
    ("Req", f::DREQ),
    ("Resp", f::DRESP),
    ("Req", f::EREQ),
    ("Conn", f::ECON),
    ("Resp", f::ERESP),
    ("Retr", f::WRETR),
];

const TAIL: [(&str, usize); 8] = [
    ("Redis", f::WREDIS),
    ("Status", f::STATUS),
    ("LastChk", f::CHECK_STATUS),
    ("Wght", f::WEIGHT),
    ("Act", f::ACT),
    ("Bck", f::BCK),
    ("Chk", f::CHKFAIL),
    ("Dwntme", f::DOWNTIME),
];

fn html(process: &Process, conf: &PageConf, o: &super::Opts, admin: bool, rest: &str) -> String {
    let plan = &process.plan;
    let mut out = String::with_capacity(16 * 1024);
    let node = conf.show_node.as_deref().unwrap_or(&plan.stats.node);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><title>Statistics Report for HAProxy{}</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <meta http-equiv=\"content-type\" content=\"text/html; charset=iso-8859-1\">\n\
         <style type=\"text/css\"><!--\n{STYLE}--></style></head>\n<body>\
         <h1><a href=\"http://www.haproxy.org/\" style=\"text-decoration: none;\">HAProxy{}</a></h1>\n\
         <h2>Statistics Report for pid {}{}</h2>\n",
        if conf.show_node.is_some() { format!(" on {}", esc(node)) } else { String::new() },
        if conf.hide_version { String::new() } else { format!(" version {}", esc(env!("CARGO_PKG_VERSION"))) },
        std::process::id(),
        if conf.show_node.is_some() { format!(" on {}", esc(node)) } else { String::new() },
    );
    if let Some(st) = rest.split(';').find_map(|p| p.strip_prefix("st=")) {
        let msg = match st {
            "DONE" => "Action processed successfully.",
            "PART" => "Action partially processed.",
            "NONE" => "Nothing has changed.",
            "DENY" => "Action denied.",
            "ERRP" => "Action not processed because of invalid parameters.",
            "EXCD" => "Action not processed : the buffer couldn't store all the data.",
            _ => "Unexpected result.",
        };
        let _ = writeln!(out, "<p><div class=active_up><b>[X]</b> {msg}</div></p>");
    }
    if conf.show_legends {
        out.push_str(
            "<p>Legend: active UP, going down, DOWN, going up, NOLB, DRAIN, MAINT, no check</p>\n",
        );
    }
    let rows = super::rows(process, o, &conf.scope);
    for px in &plan.stats.proxies {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.iid == px.iid).collect();
        if mine.is_empty() {
            continue;
        }
        let admin_form = admin && px.be.is_some();
        if admin_form {
            let _ = write!(out, "<form method=\"post\" action=\"{}\">", esc(&conf.uri));
        }
        let _ = write!(
            out,
            "<table class=\"tbl\" width=\"100%\" id=\"{0}\">\n<tr class=\"titre\"><th class=\"pxname\" width=\"10%\"><a name=\"{0}\"></a><a class=px href=\"#{0}\">{0}</a></th><th class=\"empty\" width=\"90%\"></th></tr>\n</table>\n\
             <table class=\"tbl\" width=\"100%\">\n<tr class=\"titre\">{1}<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=8>Server</th></tr>\n<tr class=\"titre\">",
            esc(&px.name),
            if admin_form { "<th rowspan=2 width=1></th>" } else { "" },
        );
        for (t, _) in COLUMNS.iter().chain(TAIL.iter()) {
            let _ = write!(out, "<th>{t}</th>");
        }
        out.push_str("</tr>\n");
        for row in mine {
            let name = super::row_text(row, f::SVNAME);
            let _ = write!(out, "<tr class=\"{}\">", row_class(row));
            if admin_form {
                if row.kind == super::Kind::Sv {
                    let _ = write!(
                        out,
                        "<td><input class=\"{}\" type=\"checkbox\" name=\"s\" value=\"{}\"></td>",
                        esc(&px.name),
                        esc(&name)
                    );
                } else {
                    out.push_str("<td></td>");
                }
            }
            let _ = write!(out, "<td class=ac>{}</td>", esc(&name));
            for (_, i) in COLUMNS.iter().chain(TAIL.iter()) {
                let _ = write!(out, "<td>{}</td>", esc(&super::row_text(row, *i)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>");
        if admin_form {
            let _ = write!(
                out,
                "<p>Choose the action to perform on the checked servers : <select name=action>\
                 <option value=\"\"></option><option value=\"ready\">Set state to READY</option>\
                 <option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option>\
                 <option value=\"hrunn\">Health: force UP</option><option value=\"hnolb\">Health: force NOLB</option>\
                 <option value=\"hdown\">Health: force DOWN</option>\
                 <option value=\"shutdown\">Kill Sessions</option>\
                 </select><input type=\"hidden\" name=\"b\" value=\"#{}\"><input type=\"submit\" value=\"Apply\"></p></form>",
                px.iid
            );
        }
        out.push_str("<p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_form_fits_as_haproxy_measures_it() {
        use super::form_fits;
        // haproxy 2.6, bufsize 16384, maxrewrite 1024: a POST whose head
        // counts 113 HTX bytes in 4 fields (its `Connection` header is
        // not kept) takes a form of 15143 bytes, not 15144.
        assert!(form_fits(113, 4, 15143, (16384, 1024)));
        assert!(!form_fits(113, 4, 15144, (16384, 1024)));
        // 20 more `X-Hnn: v` fields: 14863, not 14864.
        assert!(form_fits(233, 24, 14863, (16384, 1024)));
        assert!(!form_fits(233, 24, 14864, (16384, 1024)));
    }
}
