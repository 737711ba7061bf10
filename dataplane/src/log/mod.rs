//! Traffic and event logs, as HAProxy writes them (manual section 8).
//!
//! The path a log line travels follows the files:
//! - [`termination`]: the two-letter termination state of a stream (8.5);
//! - [`fields`]: [`StreamLog`], what the stream layer records about a stream;
//! - [`format`]: renders a log format (8.2.6) from a [`StreamLog`];
//! - [`time`]: the dates of the log lines and syslog headers, in local time;
//! - [`syslog`]: the header of each wire format (`rfc3164`, `rfc5424`,
//!   `short`, ... of the `log` keyword), `len` truncation, level filters;
//! - [`sender`]: [`LogSink`], the never-blocking hand-off from the data-path
//!   cores to one logger thread that writes to every target, over
//! - [`lanes`]: one lock-free lane per core into that thread.

pub mod fields;
pub mod format;
pub mod lanes;
pub mod sender;
pub mod syslog;
pub mod termination;
pub mod time;
