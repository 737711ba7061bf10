//! `retry-on` beyond connection failures (HAProxy's L7 retries,
//! http_ana.c do_l7_retry): a request whose server closed without
//! answering, answered junk, timed out, or answered a status the list
//! names, is sent again on another connection, each attempt counting
//! against `retries` (or what `http-request set-retries` made it), and
//! goes to another server as `option redispatch` decides.
//!
//! As HAProxy, only a request that came whole (head and body in the
//! buffer: its `msg_state` was DONE at the first send) may be retried,
//! and only while nothing of a response went to the client. The head
//! stays in the transaction's [`Head`](ringlb_proto::msg::Head) (nothing
//! changes it before the response's rules run); the client's buffer (the
//! body and any pipelined bytes after it) is copied into one pooled
//! buffer before the first attempt and put back before each retry. No
//! buffer is taken when the backend retries connection failures only, or
//! for a request without a body.

use ringlb_config::model::RetryOn;
use ringlb_proto::h1::chunked::{Decoder, Step};
use ringlb_proto::msg::Body;

use super::{Outcome, ResEnd};
use crate::engine::mux::h1::{BodyEnd, Fail};
use crate::engine::plan::BackendPlan;
use crate::engine::runtime::buffer::{Buffer, Class, Pooled};
use crate::engine::runtime::Core;
use std::time::{Duration, Instant};

/// A transaction's retries: how many were made, how many may be, where
/// the next one goes.
pub(super) struct Retry<'c> {
    /// The events retried at layer 7 (none when the request cannot be
    /// kept, or `http-request disable-l7-retry` ran).
    on: RetryOn,
    pub(super) retried: u32,
    pub(super) max: u32,
    pub(super) redispatched: bool,
    /// The server of the attempt that failed last, and whether the next
    /// one leaves it (a redispatch) or stays on it (HAProxy keeps the
    /// stream assigned to it).
    last: Option<u32>,
    away: bool,
    /// When the first attempt started to connect, and when since then the
    /// stream was last assigned a server (`%Tw`).
    t0: Instant,
    assigned: Duration,
    /// The client's buffer as it was before the first attempt (None: the
    /// request has no body, its head alone is sent again).
    kept: Option<Pooled<'c>>,
}

impl<'c> Retry<'c> {
    /// The retries of a request to a backend retrying `on` up to `max`
    /// times; `l7`: layer-7 retries are allowed (no
    /// `disable-l7-retry`).
    pub(super) fn new(
        core: &'c Core,
        (on, max, l7): (RetryOn, u32, bool),
        body: Body,
        cbuf: &Buffer,
    ) -> Retry<'c> {
        let mut r = Retry {
            on: RetryOn::default(),
            retried: 0,
            max,
            redispatched: false,
            last: None,
            away: false,
            t0: Instant::now(),
            assigned: Duration::ZERO,
            kept: None,
        };
        if !l7 || !on.l7() || max == 0 || !whole(body, cbuf) {
            return r;
        }
        if body != Body::None {
            // The buffer comes from the pool or not at all: HAProxy drops
            // the L7 retry when it cannot allocate its buffer.
            let Some(mut kept) = core.bufs.try_get(Class::Std) else {
                return r;
            };
            copy(cbuf, &mut kept);
            r.kept = Some(kept);
        }
        r.on = on;
        r
    }

    /// The statuses that make the next response retried (none when no
    /// retry is left).
    pub(super) fn statuses(&self) -> RetryOn {
        if self.retried < self.max {
            self.on
        } else {
            RetryOn::default()
        }
    }

    /// Whether the attempt that ended with `result` is retried: an event
    /// of `retry-on`, nothing sent to the client yet (`res_bytes`: what
    /// the response side counted), a retry left.
    pub(super) fn wanted(&self, result: &Result<Outcome, (ResEnd, bool)>, res_bytes: u64) -> bool {
        if self.retried >= self.max {
            return false;
        }
        let event = match result {
            // The status check ran in the exchange, which asked for it
            // only with a retry left.
            Err((ResEnd::Retry, false)) => return true,
            Err((_, true)) | Ok(_) => return false,
            // A response byte forwarded (an interim 1xx): no retry
            // (HAProxy's `co_data(rep)`).
            Err(_) if res_bytes > 0 => return false,
            // The server closed or reset: before the response (read) or
            // while the request went (write; HAProxy waits for the read
            // side's error, the same event).
            Err((ResEnd::Aborted { .. } | ResEnd::Body(BodyEnd::ToFail(Fail::Error)), _)) => {
                RetryOn::EMPTY_RESPONSE
            }
            Err((ResEnd::Invalid, _)) => RetryOn::JUNK_RESPONSE,
            Err((ResEnd::Timeout | ResEnd::Body(BodyEnd::ToFail(Fail::Timeout)), _)) => {
                RetryOn::RESPONSE_TIMEOUT
            }
            Err(_) => return false,
        };
        self.on.has(event)
    }

    /// The attempt that ended is retried (`server`: where it went; `direct`:
    /// persistence chose it): on the same server, or another one as
    /// `option redispatch` decides (stream_choose_redispatch).
    pub(super) fn next(
        &mut self,
        core: &Core,
        (be_idx, be): (usize, &BackendPlan),
        server: usize,
        direct: bool,
    ) {
        self.retried += 1;
        let away = crate::engine::connect::redispatch_now(
            core,
            be_idx,
            be,
            (server, direct),
            self.retried,
            self.max,
        );
        self.last = u32::try_from(server).ok();
        self.away = away;
    }

    /// `%Tw` and `%Tc` of an attempt whose connect started at `start`
    /// and took `tw` then `tc`, as HAProxy counts them over retries: the
    /// queue time runs to the last assignment of a server (a redispatch
    /// assigns anew; a retry on the same server does not), the connect
    /// time from there to the connection.
    pub(super) fn timers(
        &mut self,
        start: Instant,
        tw: Option<Duration>,
        tc: Duration,
    ) -> (Duration, Duration) {
        let before = start.saturating_duration_since(self.t0);
        let tw = tw.unwrap_or_default();
        if self.stay().is_none() {
            self.assigned = before + tw;
        }
        let connected = before + tw + tc;
        (self.assigned, connected.saturating_sub(self.assigned))
    }

    /// The server the next attempt must leave.
    pub(super) fn avoid(&self) -> Option<usize> {
        self.last
            .filter(|_| self.away)
            .and_then(|s| usize::try_from(s).ok())
    }

    /// The server the next attempt stays on.
    pub(super) fn stay(&self) -> Option<usize> {
        self.last
            .filter(|_| !self.away)
            .and_then(|s| usize::try_from(s).ok())
    }

    /// A response head came that is not retried: nothing is retried any
    /// more (a byte of it goes to the client), the kept bytes go back to
    /// the pool.
    pub(super) fn release(&mut self) {
        self.kept = None;
        self.on = RetryOn::default();
    }

    /// The client's buffer as it was before the first attempt.
    pub(super) fn restore(&self, cbuf: &mut Buffer) {
        if let Some(kept) = &self.kept {
            cbuf.clear();
            copy(kept, cbuf);
        }
    }
}

/// Copy `from`'s bytes into `to`, the reserve lifted for it (both are the
/// pool's standard buffers: what one holds fits the other).
fn copy(from: &Buffer, to: &mut Buffer) {
    let reserve = to.reserve();
    to.set_reserve(0);
    let n = to.put(from.data());
    to.set_reserve(reserve);
    debug_assert_eq!(n, from.len());
}

/// Whether the request's body (`body`) is all in `cbuf`.
fn whole(body: Body, cbuf: &Buffer) -> bool {
    match body {
        Body::None => true,
        Body::Length(n) => cbuf.len() as u64 >= n,
        Body::Chunked => {
            let data = cbuf.data();
            let mut dec = Decoder::new(cbuf.max_input());
            let mut at = 0;
            loop {
                match dec.step(data.get(at..).unwrap_or_default()) {
                    Ok(Step::End(_)) => return true,
                    Ok(Step::NeedMore) | Err(_) => return false,
                    Ok(Step::Framing(n) | Step::Data(n)) => at += n,
                }
            }
        }
        Body::UntilClose | Body::Tunnel => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(bytes: &[u8]) -> Buffer {
        let mut b = Buffer::new(64, 0);
        b.put(bytes);
        b
    }

    /// Only a body all in the buffer makes a request kept whole.
    #[test]
    fn a_request_is_whole_when_its_body_is_buffered() {
        assert!(whole(Body::None, &buf(b"")));
        assert!(whole(Body::Length(3), &buf(b"abcGET")));
        assert!(!whole(Body::Length(4), &buf(b"abc")));
        assert!(whole(Body::Chunked, &buf(b"3\r\nabc\r\n0\r\n\r\n")));
        assert!(!whole(Body::Chunked, &buf(b"3\r\nabc\r\n0\r\n")));
        assert!(!whole(Body::Chunked, &buf(b"zz\r\n")));
        assert!(!whole(Body::UntilClose, &buf(b"abc")));
    }

    /// `retry-on`'s keywords as HAProxy 2.6 parses them.
    #[test]
    fn retry_on_keywords() {
        let p = |s: &str| RetryOn::parse(s.split(' '));
        let all = p("all-retryable-errors").unwrap();
        for s in [500, 502, 503, 504] {
            assert!(all.status(s), "{s}");
        }
        assert!(!all.status(404) && all.l7() && all.has(RetryOn::CONN_FAILURE));
        assert!(!p("conn-failure").unwrap().l7());
        assert_eq!(p("none").unwrap(), RetryOn(0));
        assert!(p("none 503").is_err());
        assert!(p("503 none").is_err());
        // 3.2's manual lists 421 and 429 (haproxy 2.6 refuses them).
        assert!(p("421 429").unwrap().status(429));
        assert!(p("foo").is_err());
        let r = p("503 empty-response").unwrap();
        assert!(r.status(503) && !r.status(502) && r.has(RetryOn::EMPTY_RESPONSE));
        assert!(!r.has(RetryOn::CONN_FAILURE));
    }
}
