//! haproxy and ringlb on the same cases: the same configuration, the same
//! client bytes, the same server script; the client's answers, the
//! server's requests and the masked log lines must agree (see
//! `case::differences`).
//!
//! This fails while ringlb refuses `mode http` at start (the run panics
//! with ringlb's "mode http is not supported yet"), and is meant to pass
//! the day HTTP mode lands.

use crate::case::run_pair;
use crate::cases;
use crate::harness::ringlb;

#[test]
fn haproxy_and_ringlb_agree() {
    let h = crate::haproxy("haproxy_and_ringlb_agree");
    let d = run_pair(&h, &ringlb(), &cases::all());
    assert!(d.is_empty(), "{} difference(s):\n{}", d.len(), d.join("\n"));
}
