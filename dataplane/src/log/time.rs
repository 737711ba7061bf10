//! Dates of log lines and syslog headers.
//!
//! HAProxy writes `%t`, `%Tl`, `%tr`, `%trl` and the rfc3164 / rfc5424 /
//! timed / iso header dates in local time (`localtime_r()`), `%T` and `%trg`
//! in UTC. There is no `unsafe` for libc's `localtime_r()`: the local zone is
//! read once, the way glibc does (`TZ` unset: `/etc/localtime`; empty: UTC;
//! `:name` or `name`: a TZif file under `/usr/share/zoneinfo`, else a POSIX
//! TZ rule), and jiff reads the TZif file (RFC 8536, with its POSIX footer)
//! or the rule. The dates themselves are rendered here, allocation-free.
//!
//! Loading reads a file: [`init_local_zone`] does it at start-up, before the
//! data-path cores run; [`local_zone`] falls back to loading on first use.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A time zone: how many seconds east of UTC local time is at a given date.
/// The TZif files and POSIX rules are read by jiff; what is read, and in
/// which order, is glibc's (see [`Zone::load`]).
#[derive(Clone, Debug)]
pub struct Zone(jiff::tz::TimeZone);

impl PartialEq for Zone {
    /// Two zones are the same when they say the same thing: for the tests,
    /// compared over a sample of dates.
    fn eq(&self, other: &Zone) -> bool {
        (-2i64..=2)
            .map(|k| 1_700_000_000 + k * 90 * 86400)
            .all(|t| self.offset_at(t) == other.offset_at(t))
    }
}

impl Zone {
    pub const UTC: Zone = Zone(jiff::tz::TimeZone::UTC);

    /// A zone at a fixed offset east of UTC.
    pub fn fixed(offset: i32) -> Zone {
        let offset = jiff::tz::Offset::from_seconds(offset).unwrap_or(jiff::tz::Offset::UTC);
        Zone(jiff::tz::TimeZone::fixed(offset))
    }

    /// Seconds east of UTC at `unix` (UTC seconds).
    pub fn offset_at(&self, unix: i64) -> i32 {
        jiff::Timestamp::from_second(unix)
            .map(|t| self.0.to_offset(t).seconds())
            .unwrap_or(0)
    }

    /// Parses a TZif file (RFC 8536), with its POSIX footer for dates after
    /// the last transition.
    pub fn from_tzif(data: &[u8]) -> Option<Zone> {
        jiff::tz::TimeZone::tzif("local", data).ok().map(Zone)
    }

    /// A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`).
    pub fn posix(rule: &str) -> Option<Zone> {
        jiff::tz::TimeZone::posix(rule).ok().map(Zone)
    }

    /// Reads the zone as glibc would from `tz` (the value of `TZ`): unset,
    /// `/etc/localtime`; empty, UTC; `:name` or `name`, the TZif file of
    /// that path (under `/usr/share/zoneinfo` when relative), else a POSIX
    /// rule; anything unreadable, UTC.
    pub fn load(tz: Option<&str>) -> Zone {
        let name = match tz {
            None => return read_tzif("/etc/localtime").unwrap_or(Zone::UTC),
            Some("") => return Zone::UTC,
            Some(t) => t.strip_prefix(':').unwrap_or(t),
        };
        let path = if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/usr/share/zoneinfo/{name}")
        };
        if !name.contains("..") {
            if let Some(z) = read_tzif(&path) {
                return z;
            }
        }
        Zone::posix(name).unwrap_or(Zone::UTC)
    }
}

fn read_tzif(path: &str) -> Option<Zone> {
    Zone::from_tzif(&std::fs::read(path).ok()?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month 1..=12, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// A broken-down date, as `struct tm` plus the sub-second part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub micros: u32,
    /// Seconds east of UTC.
    pub offset: i32,
}

thread_local! {
    /// The last second a date of the process's local zone was broken down
    /// for on this thread (a core logs many lines per second): the UNIX
    /// second and its date. Per thread, so no lock; only for the local
    /// zone, which lives as long as the process (another zone could be
    /// freed and a different one take its address).
    static LAST: std::cell::Cell<Option<(i64, DateTime)>> =
        const { std::cell::Cell::new(None) };
}

impl DateTime {
    /// `t` seen in `zone`; in the local zone the broken-down second is
    /// reused while the second does not change (see `LAST`).
    pub fn new(t: SystemTime, zone: &Zone) -> DateTime {
        let (secs, micros) = unix_parts(t);
        if !std::ptr::eq(zone, local_zone()) {
            return DateTime::compute(secs, micros, zone);
        }
        if let Some((s, d)) = LAST.get() {
            if s == secs {
                return DateTime { micros, ..d };
            }
        }
        let d = DateTime::compute(secs, micros, zone);
        LAST.set(Some((secs, d)));
        d
    }

    fn compute(secs: i64, micros: u32, zone: &Zone) -> DateTime {
        let offset = zone.offset_at(secs);
        let local = secs + i64::from(offset);
        let (year, month, day) = civil_from_days(local.div_euclid(86400));
        let tod = u32::try_from(local.rem_euclid(86400)).unwrap_or(0);
        DateTime {
            year,
            month,
            day,
            hour: tod / 3600,
            min: tod / 60 % 60,
            sec: tod % 60,
            micros,
            offset,
        }
    }

    pub fn utc(t: SystemTime) -> DateTime {
        DateTime::new(t, &Zone::UTC)
    }

    fn month_name(&self) -> &'static str {
        let i = usize::try_from(self.month.saturating_sub(1)).unwrap_or(0);
        MONTHS.get(i).copied().unwrap_or("Jan")
    }

    /// `23/Nov/2026:19:09:12.345` (`%t`, HAProxy's `date2str_log()`).
    pub fn write_clf_ms(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.min,
            self.sec,
            self.micros / 1000
        );
    }

    /// `23/Nov/2026:19:09:12 +0000` (`%T`, `%Tl`: `gmt2str_log()`,
    /// `localdate2str_log()`).
    pub fn write_clf_zone(&self, out: &mut String) {
        let (sign, off) = sign_abs(self.offset);
        let _ = write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.min,
            self.sec,
            off / 3600,
            off / 60 % 60
        );
    }

    /// `Nov 23 19:09:12` (rfc3164 header; the day padded with a space).
    pub fn write_rfc3164(&self, out: &mut String) {
        let _ = write!(
            out,
            "{} {:2} {:02}:{:02}:{:02}",
            self.month_name(),
            self.day,
            self.hour,
            self.min,
            self.sec
        );
    }

    /// `2026-11-23T19:09:12.345678+00:00` (rfc5424, timed and iso headers:
    /// HAProxy's `timeofday_as_iso_us()`).
    pub fn write_iso_us(&self, out: &mut String) {
        let (sign, off) = sign_abs(self.offset);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.min,
            self.sec,
            self.micros,
            off / 3600,
            off / 60 % 60
        );
    }
}

fn sign_abs(offset: i32) -> (char, u32) {
    (if offset < 0 { '-' } else { '+' }, offset.unsigned_abs())
}

/// UNIX seconds and microseconds of `t` (before 1970: negative seconds,
/// positive microseconds).
pub fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_micros() {
                0 => (-secs, 0),
                us => (-secs - 1, 1_000_000 - us),
            }
        }
    }
}

/// `t` plus `ms` milliseconds.
pub fn add_ms(t: SystemTime, ms: u64) -> SystemTime {
    t.checked_add(Duration::from_millis(ms)).unwrap_or(t)
}

static LOCAL: OnceLock<Zone> = OnceLock::new();

/// Loads the local zone now (start-up), from `TZ` or `/etc/localtime`.
pub fn init_local_zone() -> &'static Zone {
    local_zone()
}

/// The local zone (loaded on first use if [`init_local_zone`] was not
/// called).
pub fn local_zone() -> &'static Zone {
    LOCAL.get_or_init(|| Zone::load(std::env::var("TZ").ok().as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(u64::try_from(secs).unwrap(), micros * 1000)
    }

    // 2026-11-23T19:16:04.977Z, the accept date of a line captured from
    // haproxy 2.6 (see format.rs).
    const T: i64 = 1_795_461_364;

    /// The per-second reuse gives what the full computation gives, across
    /// second, day and zone changes.
    #[test]
    fn the_reused_second_is_the_computed_one() {
        let local = local_zone();
        let paris = Zone::load(Some("CET-1CEST,M3.5.0,M10.5.0/3"));
        for (i, micros) in (0..3000).map(|i| (i, (i * 7919) % 1_000_000)) {
            let secs = T - 1500 + i / 2;
            let u = u32::try_from(micros).unwrap();
            let t = at(secs, u);
            // Interleaved with another zone, which must not disturb it.
            for z in [local, &paris] {
                assert_eq!(DateTime::new(t, z), DateTime::compute(secs, u, z), "{secs}");
            }
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 59, 365, 11_016, 20_415, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn formats() {
        let d = DateTime::utc(at(T, 977_123));
        let mut s = String::new();
        d.write_clf_ms(&mut s);
        assert_eq!(s, "23/Nov/2026:19:16:04.977");
        s.clear();
        d.write_clf_zone(&mut s);
        assert_eq!(s, "23/Nov/2026:19:16:04 +0000");
        s.clear();
        d.write_rfc3164(&mut s);
        assert_eq!(s, "Nov 23 19:16:04");
        s.clear();
        d.write_iso_us(&mut s);
        assert_eq!(s, "2026-11-23T19:16:04.977123+00:00");

        // Single-digit days are padded with '0' in CLF dates, with a space
        // in rfc3164 ones.
        let d = DateTime::new(at(1_767_312_000, 5_000), &Zone::fixed(-(3 * 3600 + 1800)));
        s.clear();
        d.write_clf_ms(&mut s);
        assert_eq!(s, "01/Jan/2026:20:30:00.005");
        s.clear();
        d.write_rfc3164(&mut s);
        assert_eq!(s, "Jan  1 20:30:00");
        s.clear();
        d.write_clf_zone(&mut s);
        assert_eq!(s, "01/Jan/2026:20:30:00 -0330");
        s.clear();
        d.write_iso_us(&mut s);
        assert_eq!(s, "2026-01-01T20:30:00.005000-03:30");
    }

    #[test]
    fn before_epoch() {
        let t = UNIX_EPOCH - Duration::from_micros(1_500_000);
        assert_eq!(unix_parts(t), (-2, 500_000));
        let mut s = String::new();
        DateTime::utc(t).write_clf_ms(&mut s);
        assert_eq!(s, "31/Dec/1969:23:59:58.500");
    }

    #[test]
    fn posix_rules() {
        let paris = Zone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2026-03-29 01:00Z: CEST starts (02:00 local standard time).
        assert_eq!(paris.offset_at(1_774_745_999), 3600);
        assert_eq!(paris.offset_at(1_774_746_000), 7200);
        // 2026-10-25 01:00Z: CEST ends (03:00 local daylight time).
        assert_eq!(paris.offset_at(1_792_889_999), 7200);
        assert_eq!(paris.offset_at(1_792_890_000), 3600);
        // Southern hemisphere, daylight time over the new year.
        let sydney = Zone::posix("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(sydney.offset_at(T), 11 * 3600);
        assert_eq!(sydney.offset_at(T - 180 * 86400), 10 * 3600);
        let ny = Zone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!(ny.offset_at(T), -5 * 3600);
        assert_eq!(ny.offset_at(T - 180 * 86400), -4 * 3600);
        assert_eq!(Zone::posix("<+0530>-5:30").unwrap().offset_at(T), 19800);
        assert_eq!(Zone::posix("UTC0").unwrap().offset_at(T), 0);
        assert!(Zone::posix("X").is_none());
        assert!(Zone::posix("CET-1CEST,M13.5.0,M10.5.0").is_none());
    }

    /// A TZif v2 file built by hand: one transition, then the footer rule.
    #[test]
    fn tzif_v2() {
        fn header(v: u8, timecnt: u32, typecnt: u32, charcnt: u32) -> Vec<u8> {
            let mut h = b"TZif".to_vec();
            h.push(v);
            h.extend([0u8; 15]);
            for n in [0, 0, 0, timecnt, typecnt, charcnt] {
                h.extend(u32::to_be_bytes(n));
            }
            h
        }
        let mut f = header(b'2', 0, 1, 4);
        f.extend([0, 0, 0, 0, 0, 0]);
        f.extend(b"UTC\0");
        f.extend(header(b'2', 1, 2, 8));
        f.extend(i64::to_be_bytes(1_000_000_000));
        f.push(1);
        f.extend(i32::to_be_bytes(3600)); // type 0: LMT-ish +01:00
        f.extend([0, 0]);
        // type 1: EDT, as the footer rule has it on 2001-09-09 (a TZif
        // file whose last transition disagrees with its footer is refused).
        f.extend(i32::to_be_bytes(-4 * 3600));
        f.extend([1, 4]);
        f.extend(b"AAA\0EDT\0");
        f.extend(b"\nEST5EDT,M3.2.0,M11.1.0\n");
        let z = Zone::from_tzif(&f).unwrap();
        assert_eq!(z.offset_at(0), 3600);
        // After the last transition, the footer rule.
        assert_eq!(z.offset_at(T), -5 * 3600);
        assert!(Zone::from_tzif(b"nope").is_none());
        assert!(Zone::from_tzif(&f[..50]).is_none());
    }

    #[test]
    fn load_by_name() {
        assert_eq!(Zone::load(Some("")), Zone::UTC);
        let z = Zone::load(Some("EST5EDT"));
        assert_eq!(z.offset_at(T), -5 * 3600);
        // When the system has the tz database, named zones come from it.
        if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
            let z = Zone::load(Some(":Europe/Paris"));
            assert_eq!(z.offset_at(T), 3600);
            assert_eq!(z.offset_at(T - 150 * 86400), 7200);
            // 1990: long before the footer rule takes over.
            assert_eq!(z.offset_at(650_000_000), 7200);
        }
        assert_eq!(Zone::load(Some("../../etc/passwd")).offset_at(T), 0);
    }
}
