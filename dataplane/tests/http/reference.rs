//! Every case on haproxy alone, against what HAProxy is known to do; and
//! haproxy against itself, which checks the comparison: two runs of the
//! same program must agree once the masking is applied.

use crate::case::{caught, differences, run_case, run_pair, try_run_case, view, Case, Outcome};
use crate::cases;

/// What is wrong with `o` for `case`, one line each.
fn unmet(case: &Case, o: &Outcome) -> Vec<String> {
    let mut bad = Vec::new();
    if o.client.statuses() != case.statuses {
        bad.push(format!(
            "statuses {:?}, want {:?}",
            o.client.statuses(),
            case.statuses
        ));
    }
    if let Some(n) = case.forwarded {
        if o.server.len() != n {
            bad.push(format!(
                "the server saw {} requests, want {n}",
                o.server.len()
            ));
        }
    }
    let logs = o.httplogs();
    if logs.len() != o.client.responses.len() {
        bad.push(format!(
            "{} httplog lines for {} answers",
            logs.len(),
            o.client.responses.len()
        ));
    }
    if let Some(t) = case.termination {
        for l in &logs {
            if l.termination != t {
                bad.push(format!("termination {}, want {t}", l.termination));
            }
        }
    }
    for (l, s) in logs.iter().zip(&o.client.responses) {
        if l.status != s.status.to_string() {
            bad.push(format!(
                "logged status {} for an answer {}",
                l.status, s.status
            ));
        }
    }
    if case.wait_close && !o.client.closed {
        bad.push("the connection was not closed".to_owned());
    }
    if let Some(check) = case.check {
        if bad.is_empty() {
            if let Err(msg) = caught(|| check(o)) {
                bad.push(format!("check: {msg}"));
            }
        }
    }
    bad
}

/// With `HTTP_CASES_SHOW=<part of a case name>` (or `all`), print what
/// haproxy did on the matching cases (run with `--nocapture`): the quick
/// way to learn HAProxy's behaviour before writing a case's expectations.
fn show(case: &Case, o: &Outcome) {
    if let Ok(want) = std::env::var("HTTP_CASES_SHOW") {
        if want == "all" || case.name.contains(&want) {
            eprintln!("{}:\n    {}", case.name, view(o, case).join("\n    "));
        }
    }
}

#[test]
fn every_case_on_haproxy_behaves_as_documented() {
    let h = crate::haproxy("every_case_on_haproxy_behaves_as_documented");
    let mut failed = Vec::new();
    for case in cases::all() {
        let o = match try_run_case(&h, &case) {
            Ok(o) => o,
            Err(e) => {
                failed.push(format!("{}: the run failed: {e}", case.name));
                continue;
            }
        };
        show(&case, &o);
        let bad = unmet(&case, &o);
        if !bad.is_empty() {
            failed.push(format!(
                "{}: {}\n  saw:\n    {}",
                case.name,
                bad.join("; "),
                view(&o, &case).join("\n    ")
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn haproxy_against_itself_agrees() {
    let h = crate::haproxy("haproxy_against_itself_agrees");
    let d = run_pair(&h, &h, &cases::all());
    assert!(d.is_empty(), "{}", d.join("\n"));
}

/// The comparison sees a difference when there is one: the same case
/// with a server answering otherwise.
#[test]
fn the_comparison_catches_a_different_answer() {
    let h = crate::haproxy("the_comparison_catches_a_different_answer");
    let case = cases::all().into_iter().next().unwrap();
    let a = run_case(&h, &case);
    let mut other = case.clone();
    other.replies[1] = crate::harness::http::Reply::ok(b"TWO");
    let b = run_case(&h, &other);
    let d = differences(&case, &a, &b);
    assert!(
        d.iter()
            .any(|l| l.contains("\"two\"") && l.contains("\"TWO\"")),
        "{d:#?}"
    );
}

/// The masking keeps what a drop-in must reproduce and nothing else.
#[test]
fn the_httplog_mask_keeps_the_fields_it_says() {
    let line = "127.0.0.1:40050 [06/Dec/2026:16:17:31.646] fe be/s1 0/0/1/12/13 200 73 - - ---- 2/2/1/1/0 0/0 \"GET /a b HTTP/1.1\"";
    let l = crate::case::HttpLog::parse(line).unwrap();
    assert_eq!(
        crate::case::mask_httplog(&l, Some(40050)),
        "127.0.0.1:PORT [DATE] fe be/s1 N/N/N/N/N 200 73 - - ---- A/F/1/1/0 0/0 \"GET /a b HTTP/1.1\""
    );
    let bad = "127.0.0.1:1 [06/Dec/2026:16:17:31.646] fe fe/<NOSRV> -1/-1/-1/-1/0 400 0 - - PR-- 1/1/0/0/0 0/0 \"<BADREQ>\"";
    let l = crate::case::HttpLog::parse(bad).unwrap();
    assert_eq!(
        crate::case::mask_httplog(&l, Some(2)),
        "127.0.0.1:OTHER(1) [DATE] fe fe/<NOSRV> -1/-1/-1/-1/N 400 0 - - PR-- A/F/0/0/0 0/0 \"<BADREQ>\""
    );
    assert!(crate::case::HttpLog::parse("Proxy fe started.").is_none());
}
