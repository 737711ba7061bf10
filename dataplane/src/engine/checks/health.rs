//! What a check's results do to its server, sans I/O: HAProxy's health
//! counter (`check->health`, check.c `set_server_check_status`), the check
//! status codes and their descriptions (`check_statuses[]`), the interval
//! to the next check (`srv_getinter`), and the words of the log lines
//! (server.c `srv_append_status`, check.c's `option log-health-checks`
//! line).

use std::fmt::Write as _;
use std::time::Duration;

/// `HCHK_STATUS_*`: how a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not checked yet (HCHK_STATUS_INI).
    Ini,
    /// `observe`: the traffic saw `error-limit` consecutive errors
    /// (HCHK_STATUS_HANA).
    Hana,
    /// The socket could not be created or an I/O error after connecting.
    SockErr,
    L4Ok,
    L4Tout,
    L4Con,
    L6Ok,
    L6Tout,
    L6Rsp,
    L7Tout,
    L7Rsp,
    L7Ok,
    /// `http-check disable-on-404`: up, but taking no new traffic.
    L7OkC,
    L7Sts,
    /// An agent's line without a health word (HCHK_STATUS_CHECKED): no
    /// change.
    Checked,
}

impl Status {
    const ALL: [Status; 15] = [
        Status::Ini,
        Status::Hana,
        Status::SockErr,
        Status::L4Ok,
        Status::L4Tout,
        Status::L4Con,
        Status::L6Ok,
        Status::L6Tout,
        Status::L6Rsp,
        Status::L7Tout,
        Status::L7Rsp,
        Status::L7Ok,
        Status::L7OkC,
        Status::L7Sts,
        Status::Checked,
    ];

    fn index(self) -> u64 {
        Status::ALL
            .iter()
            .position(|s| *s == self)
            .and_then(|i| u64::try_from(i).ok())
            .unwrap_or(0)
    }

    /// The code the stats CSV shows (`check_statuses[].info`).
    pub fn code(self) -> &'static str {
        match self {
            Status::Ini => "INI",
            Status::Hana => "HANA",
            Status::SockErr => "SOCKERR",
            Status::L4Ok => "L4OK",
            Status::L4Tout => "L4TOUT",
            Status::L4Con => "L4CON",
            Status::L6Ok => "L6OK",
            Status::L6Tout => "L6TOUT",
            Status::L6Rsp => "L6RSP",
            Status::L7Tout => "L7TOUT",
            Status::L7Rsp => "L7RSP",
            Status::L7Ok => "L7OK",
            Status::L7OkC => "L7OKC",
            Status::L7Sts => "L7STS",
            Status::Checked => "CHECKED",
        }
    }

    /// The words the log lines use (`check_statuses[].desc`).
    pub fn description(self) -> &'static str {
        match self {
            Status::Ini => "Initializing",
            Status::Hana => "Health analyze",
            Status::SockErr => "Socket error",
            Status::L4Ok => "Layer4 check passed",
            Status::L4Tout => "Layer4 timeout",
            Status::L4Con => "Layer4 connection problem",
            Status::L6Ok => "Layer6 check passed",
            Status::L6Tout => "Layer6 timeout",
            Status::L6Rsp => "Layer6 invalid response",
            Status::L7Tout => "Layer7 timeout",
            Status::L7Rsp => "Layer7 invalid response",
            Status::L7Ok => "Layer7 check passed",
            Status::L7OkC => "Layer7 check conditionally passed",
            Status::L7Sts => "Layer7 wrong status",
            Status::Checked => "No status change",
        }
    }

    pub fn passed(self) -> bool {
        matches!(
            self,
            Status::L4Ok | Status::L6Ok | Status::L7Ok | Status::L7OkC
        )
    }

    /// Statuses at or past HCHK_STATUS_L57DATA print their HTTP code.
    fn has_code(self) -> bool {
        matches!(self, Status::L7Ok | Status::L7OkC | Status::L7Sts)
    }
}

/// One finished check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// The HTTP status the server answered (0: none).
    pub code: u16,
    /// `check->desc`: the error or the reason phrase ("" for none).
    pub info: String,
    pub duration: Duration,
}

impl Outcome {
    pub fn new(status: Status, code: u16, info: impl Into<String>, duration: Duration) -> Self {
        let mut info = info.into();
        // HCHK_DESC_LEN: HAProxy keeps 127 bytes of it.
        if info.len() > 127 {
            let mut end = 127;
            while !info.is_char_boundary(end) {
                end -= 1;
            }
            info.truncate(end);
        }
        Outcome {
            status,
            code,
            info,
            duration,
        }
    }
}

/// The last result of a check, for the statistics (`check_status`,
/// `check_code`, `check_duration` of the stats CSV: one word; `last_chk`:
/// its text), written by the check's owner core, read from anywhere.
#[derive(Debug, Default)]
pub struct Last {
    word: std::sync::atomic::AtomicU64,
    desc: Desc,
}

impl Last {
    pub fn set(&self, o: &Outcome) {
        let ms = u64::try_from(o.duration.as_millis())
            .unwrap_or(u64::MAX)
            .min(u64::from(u32::MAX));
        let w = o.status.index() << 48 | u64::from(o.code) << 32 | ms;
        self.word.store(w, std::sync::atomic::Ordering::Relaxed);
        self.desc.set(o.info.as_bytes());
    }

    /// Back to "not checked yet" (an added slot's check given to a new
    /// server): the status word, which any thread may store; the owner
    /// core clears the text with [`Last::reset`].
    pub fn mark_ini(&self) {
        self.word.store(
            Status::Ini.index() << 48,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// [`Last::mark_ini`] and the text: only the check's owner core.
    pub fn reset(&self) {
        self.mark_ini();
        self.desc.set(b"");
    }

    /// The status, HTTP code and duration of the last check (INI before
    /// the first).
    pub fn get(&self) -> (Status, u16, Duration) {
        let w = self.word.load(std::sync::atomic::Ordering::Relaxed);
        let status = usize::try_from(w >> 48)
            .ok()
            .and_then(|i| Status::ALL.get(i).copied())
            .unwrap_or(Status::Ini);
        let code = u16::try_from((w >> 32) & 0xffff).unwrap_or(0);
        (status, code, Duration::from_millis(w & 0xffff_ffff))
    }

    /// `check->desc` of the last check (`last_chk`).
    pub fn desc(&self) -> String {
        self.desc.get()
    }
}

/// Words of [`Desc`]: HCHK_DESC_LEN (128) bytes.
const DESC_WORDS: usize = 16;

/// A check's text for readers on other threads, without a lock: one
/// writer (the check's owner core) bumps `seq` to odd, stores the bytes,
/// bumps it to even; a reader retries while it saw an odd or a moved
/// `seq` (a seqlock).
#[derive(Debug, Default)]
struct Desc {
    seq: std::sync::atomic::AtomicU64,
    len: std::sync::atomic::AtomicU64,
    words: [std::sync::atomic::AtomicU64; DESC_WORDS],
}

impl Desc {
    fn set(&self, text: &[u8]) {
        use std::sync::atomic::{fence, Ordering};
        let text = text.get(..DESC_WORDS * 8).unwrap_or(text);
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (w, chunk) in self.words.iter().zip(text.chunks(8)) {
            let mut b = [0u8; 8];
            b.iter_mut().zip(chunk).for_each(|(d, s)| *d = *s);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        self.len.store(text.len() as u64, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    fn get(&self) -> String {
        use std::sync::atomic::{fence, Ordering};
        for _ in 0..64 {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let len = usize::try_from(self.len.load(Ordering::Relaxed))
                .unwrap_or(0)
                .min(DESC_WORDS * 8);
            let mut out = Vec::with_capacity(len);
            for w in &self.words {
                out.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            out.truncate(len);
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return String::from_utf8_lossy(&out).into_owned();
            }
        }
        String::new()
    }
}

/// HAProxy's health counter: 0..rise-1 is down (rising), rise..rise+fall-1
/// is up (rise+fall-1 fully up; lower is "going down").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
}

impl Health {
    /// A checked server starts up "but will fall down at first failure"
    /// (srv_settings_init: health = rise); one in maintenance starts at 0.
    pub fn new(rise: u32, fall: u32, up: bool) -> Health {
        let rise = rise.max(1);
        let fall = fall.max(1);
        Health {
            health: if up { rise } else { 0 },
            rise,
            fall,
        }
    }

    pub fn is_up(&self) -> bool {
        self.health >= self.rise
    }

    fn top(&self) -> u32 {
        self.rise + self.fall - 1
    }

    /// Fully up: no failure since the last rise.
    pub fn is_full(&self) -> bool {
        self.health == self.top()
    }

    /// Count a result; whether the counter moved (HAProxy's `report`).
    pub fn count(&mut self, passed: bool) -> bool {
        if passed {
            if self.health < self.top() {
                self.health += 1;
                if self.health >= self.rise {
                    self.health = self.top();
                }
                return true;
            }
            false
        } else if self.health > 0 {
            self.health -= 1;
            if self.health < self.rise {
                self.health = 0;
            }
            true
        } else {
            false
        }
    }

    /// `status: x/y UP|DOWN` of the log-health-checks line.
    pub fn progress(&self, weight: u32, out: &mut String) {
        if self.is_up() {
            let _ = write!(
                out,
                "{}/{} {}",
                self.health - self.rise + 1,
                self.fall,
                if weight > 0 { "UP" } else { "DRAIN" }
            );
        } else {
            let _ = write!(out, "{}/{} DOWN", self.health, self.rise);
        }
    }
}

/// The check intervals of one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intervals {
    pub inter: Duration,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
}

impl Intervals {
    /// srv_getinter: `inter` while fully up, `downinter` while down (the
    /// server stopped and the counter at 0), `fastinter` in between.
    pub fn next(&self, h: &Health, stopped: bool) -> Duration {
        if h.is_full() {
            return self.inter;
        }
        if stopped && h.health == 0 {
            return self.downinter.unwrap_or(self.inter);
        }
        self.fastinter.unwrap_or(self.inter)
    }
}

/// chunk_asciiencode with `"` as the quote: what is not printable ASCII,
/// `<`, `>` and the quote become `<XX>`.
pub fn ascii_encode(s: &[u8], out: &mut String) {
    for &c in s {
        if !(0x20..0x7f).contains(&c) || c == b'<' || c == b'>' || c == b'"' {
            let _ = write!(out, "<{c:02X}>");
        } else {
            out.push(char::from(c));
        }
    }
}

/// srv_append_status's reason part: `, reason: X[, code: N][, info:
/// "..."], check duration: Nms`.
pub fn append_reason(o: &Outcome, out: &mut String) {
    let _ = write!(out, ", reason: {}", o.status.description());
    if o.status.has_code() {
        let _ = write!(out, ", code: {}", o.code);
    }
    if !o.info.is_empty() {
        out.push_str(", info: \"");
        ascii_encode(o.info.as_bytes(), out);
        out.push('"');
    }
    // A verdict of the traffic has no duration (HAProxy's -1).
    if o.status != Status::Hana {
        let _ = write!(out, ", check duration: {}ms", o.duration.as_millis());
    }
}

/// Active and backup servers usable now, as srv_act / srv_bck.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: usize,
    pub backup: usize,
}

/// What a state-change line says besides the reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Farm {
    pub counts: Counts,
    /// The server's connections (cur_sess).
    pub sessions: u32,
    /// Streams moved by the change (pendconn_redistribute /
    /// pendconn_grab_from_px).
    pub requeued: u32,
    /// The server's queue after it.
    pub queued: u32,
}

/// Where a server's state goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Up,
    Down,
    /// NOLB (`http-check disable-on-404`).
    Stopping,
}

/// "Server be/s1 is DOWN, reason: ... 0 active and 0 backup servers left.
/// 0 sessions active, 0 requeued, 0 remaining in queue." (srv_update_status
/// and srv_append_status; `reason` None under option log-health-checks,
/// whose own line said it).
pub fn state_line(
    backend: &str,
    server: &str,
    backup: bool,
    to: Transition,
    reason: Option<&Outcome>,
    farm: &Farm,
) -> String {
    let mut s = String::with_capacity(200);
    let _ = write!(
        s,
        "{}Server {backend}/{server} is {}",
        if backup { "Backup " } else { "" },
        match to {
            Transition::Up => "UP",
            Transition::Down => "DOWN",
            Transition::Stopping => "stopping",
        }
    );
    if let Some(o) = reason {
        append_reason(o, &mut s);
    }
    let c = farm.counts;
    let on_backup = if c.backup > 0 && c.active == 0 {
        " Running on backup."
    } else {
        ""
    };
    if to != Transition::Down {
        let _ = write!(
            s,
            ". {} active and {} backup servers online.{on_backup} {} sessions requeued, {} total in queue.",
            c.active, c.backup, farm.requeued, farm.queued
        );
    } else {
        let _ = write!(
            s,
            ". {} active and {} backup servers left.{on_backup} {} sessions active, {} requeued, {} remaining in queue.",
            c.active, c.backup, farm.sessions, farm.requeued, farm.queued
        );
    }
    s
}

/// The `option log-health-checks` line: "Health check for server be/s1
/// failed, reason: ..., status: 0/2 DOWN."
pub fn health_line(
    backend: &str,
    server: &str,
    backup: bool,
    o: &Outcome,
    h: &Health,
    weight: u32,
) -> String {
    check_line("Health", backend, server, backup, o, h, weight)
}

/// The `option log-health-checks` line of a health check ("Health") or an
/// agent ("Agent"); `weight` is the user weight (0: DRAIN).
pub fn check_line(
    kind: &str,
    backend: &str,
    server: &str,
    backup: bool,
    o: &Outcome,
    h: &Health,
    weight: u32,
) -> String {
    let mut s = String::with_capacity(200);
    let _ = write!(
        s,
        "{kind} check for {}server {backend}/{server} {}{}",
        if backup { "backup " } else { "" },
        if o.status == Status::L7OkC {
            "conditionally "
        } else {
            ""
        },
        if o.status.passed() {
            "succeeded"
        } else {
            "failed"
        }
    );
    append_reason(o, &mut s);
    s.push_str(", status: ");
    h.progress(weight, &mut s);
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_checked_server_falls_at_its_first_failure_then_needs_rise() {
        let mut h = Health::new(2, 3, true);
        assert!(h.is_up());
        assert!(h.count(false));
        assert!(!h.is_up(), "up but falls at the first failure");
        assert_eq!(h.health, 0);
        assert!(!h.count(false), "already at 0: nothing to report");
        assert!(h.count(true));
        assert!(!h.is_up(), "1/2");
        assert!(h.count(true));
        assert!(h.is_up());
        assert!(h.is_full());
        // Once fully up, it takes `fall` failures.
        assert!(h.count(false));
        assert!(h.is_up());
        assert!(h.count(false));
        assert!(h.is_up());
        assert!(h.count(false));
        assert!(!h.is_up());
        assert!(!h.count(false));
    }

    #[test]
    fn the_interval_follows_the_counter() {
        let i = Intervals {
            inter: ms(1000),
            fastinter: Some(ms(100)),
            downinter: Some(ms(5000)),
        };
        let mut h = Health::new(2, 3, true);
        assert_eq!(i.next(&h, false), ms(100), "going down at start");
        h.count(true);
        assert_eq!(i.next(&h, false), ms(1000));
        h.count(false);
        assert_eq!(i.next(&h, false), ms(100));
        h.count(false);
        h.count(false);
        assert_eq!(i.next(&h, true), ms(5000));
        let plain = Intervals {
            inter: ms(700),
            fastinter: None,
            downinter: None,
        };
        assert_eq!(plain.next(&h, true), ms(700));
    }

    #[test]
    fn the_last_result_is_kept() {
        let l = Last::default();
        assert_eq!(l.get(), (Status::Ini, 0, ms(0)));
        l.set(&Outcome::new(Status::L7Sts, 503, "x", ms(12)));
        assert_eq!(l.get(), (Status::L7Sts, 503, ms(12)));
        for s in Status::ALL {
            l.set(&Outcome::new(s, 0, "", ms(1)));
            assert_eq!(l.get().0, s);
        }
    }

    #[test]
    fn lines_say_what_haproxy_says() {
        let o = Outcome::new(Status::L4Con, 0, "Connection refused", ms(0));
        let farm = Farm::default();
        assert_eq!(
            state_line("be", "s1", false, Transition::Down, Some(&o), &farm),
            "Server be/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let ok = Outcome::new(Status::L7Ok, 200, "", ms(3));
        let farm = Farm {
            counts: Counts {
                active: 0,
                backup: 1,
            },
            ..Farm::default()
        };
        assert_eq!(
            state_line("be", "b", true, Transition::Up, Some(&ok), &farm),
            "Backup Server be/b is UP, reason: Layer7 check passed, code: 200, check duration: 3ms. 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue."
        );
        let mut h = Health::new(2, 1, false);
        let bad = Outcome::new(Status::L7Rsp, 0, "a \"quoted\" <x>\n", ms(82));
        assert_eq!(
            health_line("be", "s1", false, &bad, &h, 1),
            "Health check for server be/s1 failed, reason: Layer7 invalid response, info: \"a <22>quoted<22> <3C>x<3E><0A>\", check duration: 82ms, status: 0/2 DOWN."
        );
        h.count(true);
        h.count(true);
        assert_eq!(
            health_line("be", "s1", false, &ok, &h, 1),
            "Health check for server be/s1 succeeded, reason: Layer7 check passed, code: 200, check duration: 3ms, status: 1/1 UP."
        );
    }

    #[test]
    fn a_check_text_reads_back_whole() {
        let last = super::Last::default();
        assert_eq!(last.desc(), "");
        let o = super::Outcome::new(super::Status::L7Ok, 200, "OK", std::time::Duration::ZERO);
        last.set(&o);
        assert_eq!(last.desc(), "OK");
        let long = "x".repeat(200);
        last.set(&super::Outcome::new(
            super::Status::L4Con,
            0,
            long,
            std::time::Duration::ZERO,
        ));
        assert_eq!(last.desc(), "x".repeat(127));
        last.set(&super::Outcome::new(
            super::Status::L4Con,
            0,
            "Connection refused",
            std::time::Duration::ZERO,
        ));
        assert_eq!(last.desc(), "Connection refused");
    }
}
