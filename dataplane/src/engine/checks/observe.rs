//! `observe layer4|layer7`: the traffic judges a server between its
//! checks (HAProxy's `health_adjust`, check.c). The data path reports what
//! it saw of a server (a connect that succeeded or failed, an HTTP status,
//! a broken or late response) to the server's [`Observer`]; `error-limit`
//! consecutive errors "trip" it, and the server's check task, on its owner
//! core, acts as `on-error` says (see `run::observed`).
//!
//! Cost on the data path: nothing for a server that is not observed (one
//! load of a plain field); otherwise one relaxed load per success (a store
//! only when errors were counted) and one compare-and-swap per error, on a
//! cache line of the server's own. The trip is one store and a wake-up of
//! the check task (`AtomicWaker`; compio wakes a task of another core
//! through its ring), once per `error-limit` errors. No lock, no message
//! per request.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use ringlb_config::model::{Observe, OnError};

/// HAProxy's default `error-limit` (DEF_HANA_ERRLIMIT).
pub const DEFAULT_LIMIT: u32 = 10;

/// What the data path saw of a server (`HANA_STATUS_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Event {
    /// A connection to it was established.
    L4Ok = 1,
    /// A connection attempt failed or timed out.
    L4Err,
    /// An HTTP status below 500, or 501 or 505 (which a client's request
    /// provokes).
    HttpOk,
    /// Any other 5xx.
    HttpSts,
    /// Response headers that do not parse.
    HttpHdrRsp,
    /// An invalid response.
    HttpRsp,
    /// A read error before the response.
    HttpReadError,
    /// `timeout server` before the response.
    HttpReadTimeout,
    /// The server closed before the response.
    HttpBrokenPipe,
}

impl Event {
    const ALL: [Event; 9] = [
        Event::L4Ok,
        Event::L4Err,
        Event::HttpOk,
        Event::HttpSts,
        Event::HttpHdrRsp,
        Event::HttpRsp,
        Event::HttpReadError,
        Event::HttpReadTimeout,
        Event::HttpBrokenPipe,
    ];

    fn from_u8(b: u8) -> Option<Event> {
        Event::ALL.into_iter().find(|e| *e as u8 == b)
    }

    /// An HTTP status as http_wait_for_response judges it.
    pub fn of_status(status: u16) -> Event {
        if status >= 100 && (status < 500 || status == 501 || status == 505) {
            Event::HttpOk
        } else {
            Event::HttpSts
        }
    }

    /// `analyze_statuses[].desc`: the words of the "Detected N
    /// consecutive errors, last one was: ..." info.
    pub fn description(self) -> &'static str {
        match self {
            Event::L4Ok => "L4 successful connection",
            Event::L4Err => "L4 unsuccessful connection",
            Event::HttpOk => "Correct http response",
            Event::HttpSts => "Wrong http response",
            Event::HttpHdrRsp => "Invalid http response (headers)",
            Event::HttpRsp => "Invalid http response",
            Event::HttpReadError => "Read error (http)",
            Event::HttpReadTimeout => "Read timeout (http)",
            Event::HttpBrokenPipe => "Close from server (http)",
        }
    }

    /// `analyze_statuses[].lr`: whether the mode ignores it (None), counts
    /// it as an error (Some(true)) or as a success.
    fn verdict(self, mode: Observe) -> Option<bool> {
        match (self, mode) {
            (Event::L4Ok, Observe::Layer4) => Some(false),
            (Event::L4Ok, Observe::Layer7) => None,
            (Event::L4Err, _) => Some(true),
            (Event::HttpOk, Observe::Layer7) => Some(false),
            (_, Observe::Layer4) => None,
            (_, Observe::Layer7) => Some(true),
        }
    }
}

/// A server's observer (see the module). On a cache line of its own: every
/// core writes it.
#[derive(Debug)]
#[repr(align(64))]
pub struct Observer {
    /// 0: not observed (no `observe`, or no `check`: HAProxy adjusts
    /// only a checked server's health); else the [`Observe`] mode + 1.
    /// Lone atomics, as `add server` sets an added slot's (a relaxed load
    /// costs the data path what a plain field did).
    mode: AtomicU8,
    on_error: AtomicU8,
    limit: AtomicU32,
    /// `consecutive_errors`.
    errors: AtomicU32,
    /// The last error of a run that reached the limit, until the check
    /// task takes it (0: none).
    tripped: AtomicU8,
    waker: AtomicWaker,
}

impl Default for Observer {
    fn default() -> Self {
        Observer::new(None, OnError::FailCheck, DEFAULT_LIMIT)
    }
}

impl Observer {
    pub fn new(mode: Option<Observe>, on_error: OnError, limit: u32) -> Observer {
        let o = Observer {
            mode: AtomicU8::new(0),
            on_error: AtomicU8::new(0),
            limit: AtomicU32::new(0),
            errors: AtomicU32::new(0),
            tripped: AtomicU8::new(0),
            waker: AtomicWaker::new(),
        };
        o.set(mode, on_error, limit);
        o
    }

    /// `observe`, `on-error` and `error-limit` of the server now in the
    /// slot (`add server`); its count of errors starts again.
    pub fn set(&self, mode: Option<Observe>, on_error: OnError, limit: u32) {
        let m = match mode {
            None => 0,
            Some(Observe::Layer4) => 1,
            Some(Observe::Layer7) => 2,
        };
        let e = match on_error {
            OnError::FastInter => 0,
            OnError::FailCheck => 1,
            OnError::SuddenDeath => 2,
            OnError::MarkDown => 3,
        };
        self.on_error.store(e, Ordering::Relaxed);
        self.limit.store(limit, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        let _ = self.take();
        self.mode.store(m, Ordering::Release);
    }

    fn mode(&self) -> Option<Observe> {
        match self.mode.load(Ordering::Relaxed) {
            1 => Some(Observe::Layer4),
            2 => Some(Observe::Layer7),
            _ => None,
        }
    }

    /// `on-error`.
    pub fn on_error(&self) -> OnError {
        match self.on_error.load(Ordering::Relaxed) {
            0 => OnError::FastInter,
            2 => OnError::SuddenDeath,
            3 => OnError::MarkDown,
            _ => OnError::FailCheck,
        }
    }

    /// `error-limit`.
    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::Relaxed)
    }

    /// A server's observer from its options (`observe` counts only with
    /// `check`). `layer7` outside an HTTP proxy observes nothing: HAProxy
    /// alerts ("'layer7' can only be used in http proxies") and leaves
    /// the server unobserved, the configuration still valid.
    pub fn of(o: &ringlb_config::model::ServerOptions, http: bool) -> Observer {
        let mode = o
            .observe
            .filter(|_| o.check == Some(true))
            .filter(|m| http || *m != Observe::Layer7);
        Observer::new(
            mode,
            o.on_error.unwrap_or(OnError::FailCheck),
            o.error_limit.unwrap_or(DEFAULT_LIMIT),
        )
    }

    pub fn is_on(&self) -> bool {
        self.mode().is_some()
    }

    /// The data path saw `ev` (health_adjust).
    #[inline]
    pub fn report(&self, ev: Event) {
        let Some(mode) = self.mode() else { return };
        match ev.verdict(mode) {
            None => {}
            Some(false) => self.clear(),
            Some(true) => {
                let limit = self.limit();
                let hit = self
                    .errors
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(if n.saturating_add(1) >= limit {
                            0
                        } else {
                            n + 1
                        })
                    })
                    .is_ok_and(|n| n.saturating_add(1) >= limit);
                if hit {
                    self.tripped.store(ev as u8, Ordering::Release);
                    self.waker.wake();
                }
            }
        }
    }

    /// No error since (a success, or a passed check).
    #[inline]
    pub fn clear(&self) {
        if self.errors.load(Ordering::Relaxed) != 0 {
            self.errors.store(0, Ordering::Relaxed);
        }
    }

    /// The last error of a run that reached `error-limit`, once; the check
    /// task is woken when one comes.
    pub fn poll_tripped(&self, cx: &mut Context<'_>) -> Poll<Event> {
        if let Some(e) = self.take() {
            return Poll::Ready(e);
        }
        self.waker.register(cx.waker());
        match self.take() {
            Some(e) => Poll::Ready(e),
            None => Poll::Pending,
        }
    }

    pub fn take(&self) -> Option<Event> {
        Event::from_u8(self.tripped.swap(0, Ordering::Acquire))
    }
}

/// What a server's state change does to the streams (`on-marked-down
/// shutdown-sessions`, `on-marked-up shutdown-backup-sessions`): lone
/// atomics, as `add server` sets an added slot's.
#[derive(Debug, Default)]
pub struct ShutdownOn {
    /// Marked DOWN: its streams are killed (`D`).
    down: std::sync::atomic::AtomicBool,
    /// Marked UP (an active server): the streams of the backend's backup
    /// servers are killed (`U`).
    up: std::sync::atomic::AtomicBool,
}

impl ShutdownOn {
    pub fn of(o: &ringlb_config::model::ServerOptions) -> ShutdownOn {
        let s = ShutdownOn::default();
        s.set(o.on_marked_down.is_some(), o.on_marked_up.is_some());
        s
    }

    pub fn set(&self, down: bool, up: bool) {
        self.down.store(down, Ordering::Relaxed);
        self.up.store(up, Ordering::Relaxed);
    }

    pub fn down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    pub fn up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_trips_once_per_run_of_errors() {
        let o = Observer::new(Some(Observe::Layer4), OnError::FailCheck, 3);
        o.report(Event::L4Err);
        o.report(Event::L4Err);
        assert_eq!(o.take(), None);
        // A success starts the run again.
        o.report(Event::L4Ok);
        o.report(Event::L4Err);
        o.report(Event::L4Err);
        assert_eq!(o.take(), None);
        o.report(Event::L4Err);
        assert_eq!(o.take(), Some(Event::L4Err));
        assert_eq!(o.take(), None, "taken once");
        // Layer 4 ignores what HTTP says.
        for _ in 0..5 {
            o.report(Event::HttpSts);
        }
        assert_eq!(o.take(), None);
    }

    #[test]
    fn layer7_counts_http_errors_and_connect_failures() {
        let o = Observer::new(Some(Observe::Layer7), OnError::MarkDown, 2);
        o.report(Event::HttpSts);
        // A connection that was established says nothing at layer 7.
        o.report(Event::L4Ok);
        o.report(Event::L4Err);
        assert_eq!(o.take(), Some(Event::L4Err));
        o.report(Event::of_status(500));
        o.report(Event::of_status(501));
        o.report(Event::of_status(503));
        assert_eq!(o.take(), None, "501 cleared the run");
        o.report(Event::of_status(505));
        o.report(Event::of_status(502));
        o.report(Event::HttpReadTimeout);
        assert_eq!(
            o.take().map(Event::description),
            Some("Read timeout (http)")
        );
    }

    #[test]
    fn layer7_outside_http_and_observe_without_check_observe_nothing() {
        let mut o = ringlb_config::model::ServerOptions {
            observe: Some(Observe::Layer7),
            check: Some(true),
            ..Default::default()
        };
        assert!(Observer::of(&o, true).is_on());
        assert!(
            !Observer::of(&o, false).is_on(),
            "haproxy: an alert, unobserved"
        );
        o.observe = Some(Observe::Layer4);
        assert!(Observer::of(&o, false).is_on());
        o.check = None;
        assert!(
            !Observer::of(&o, true).is_on(),
            "health_adjust needs a check"
        );
        let d = Observer::of(&o, true);
        assert_eq!(
            (d.limit(), d.on_error()),
            (10, OnError::FailCheck),
            "HAProxy's defaults"
        );
    }

    #[test]
    fn an_unobserved_server_counts_nothing() {
        let o = Observer::default();
        assert!(!o.is_on());
        for _ in 0..20 {
            o.report(Event::L4Err);
        }
        assert_eq!(o.take(), None);
        assert_eq!(std::mem::align_of::<Observer>(), 64);
    }
}
