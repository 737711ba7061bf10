//! HTTP/1 over a connection: a message head read into the connection's
//! buffer and parsed as it arrives, and a body moved from one connection
//! to the other with its framing kept (Content-Length, until close) or
//! decoded and re-encoded (chunked, trailers kept).
//!
//! Every read and write runs under the side's timeout (`timeout client` /
//! `server`), re-armed by each operation as HAProxy's are by activity.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use ringlb_proto::h1::chunked::{self, Decoder, Step};
use ringlb_proto::h1::head::{self, HeadParser, Progress};
use ringlb_proto::msg::{Body, Head};

use crate::engine::forward::splice::{self, Lease, PipePool};
use crate::engine::runtime::buffer::{Buffer, BufferPool, Class};
use crate::engine::runtime::timer::{self, Timers};
use crate::engine::session::Conn;

/// How an I/O operation under a timeout failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fail {
    Timeout,
    Error,
}

/// Run `op` within `t` (none: no limit).
pub async fn within<T>(
    timers: &Timers,
    t: Option<Duration>,
    op: impl Future<Output = io::Result<T>>,
) -> Result<T, Fail> {
    match t {
        Some(t) => match timer::timeout(timers, t, op).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(Fail::Error),
            Err(()) => Err(Fail::Timeout),
        },
        None => op.await.map_err(|_| Fail::Error),
    }
}

/// Why no head came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadEnd {
    /// Refused by the parser (HAProxy answers 400, or 502 for a response).
    Invalid(head::Error),
    /// The peer closed first; `partial`: some of the head had arrived.
    Closed {
        partial: bool,
    },
    /// A read failed (reset).
    Error {
        partial: bool,
    },
    Timeout {
        partial: bool,
    },
}

/// Read and parse a head at the start of `buf`, reading from `conn` as
/// needed, each read within `per_read` and all of them before `deadline`
/// (`timeout http-request`). The head's bytes are consumed from `buf`
/// (how many is returned); what follows (a body, a pipelined request)
/// stays.
pub async fn read_head(
    conn: &Conn,
    buf: &mut Buffer,
    parser: &mut HeadParser,
    head: &mut Head,
    timers: &Timers,
    per_read: Option<Duration>,
    deadline: Option<Instant>,
) -> Result<usize, HeadEnd> {
    loop {
        if !buf.is_empty() {
            match parser.parse(buf.data_mut(), head) {
                Ok(Progress::Done(n)) => {
                    buf.consume(n);
                    return Ok(n);
                }
                Ok(Progress::Partial) => {}
                Err(e) => return Err(HeadEnd::Invalid(e)),
            }
        }
        let partial = !buf.is_empty();
        if buf.room() == 0 {
            // The parser refuses a head over its limit before this.
            return Err(HeadEnd::Invalid(head::Error {
                kind: head::ErrorKind::TooLarge,
                at: buf.len(),
            }));
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let t = match (per_read, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match within(timers, t, conn.read(buf)).await {
            Ok(0) => return Err(HeadEnd::Closed { partial }),
            Ok(_) => {}
            Err(Fail::Timeout) => return Err(HeadEnd::Timeout { partial }),
            Err(Fail::Error) => return Err(HeadEnd::Error { partial }),
        }
    }
}

/// Which side a body transfer failed on, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// The sender closed before the body's end.
    FromClosed,
    FromFail(Fail),
    ToFail(Fail),
    /// The chunked framing was invalid.
    Invalid,
}

/// The two connections of a body transfer and their timeouts.
#[allow(missing_debug_implementations)]
pub struct Path<'a> {
    pub from: &'a Conn,
    pub to: &'a Conn,
    pub timers: &'a Timers,
    /// In cells: an http-response rule may change them (`set-timeout`)
    /// after the path is made.
    pub from_timeout: Cell<Option<Duration>>,
    pub to_timeout: Cell<Option<Duration>>,
    /// Body bytes read from `from` (HAProxy's byte counters).
    pub bytes: &'a Cell<u64>,
    /// The core's pool: a long body moves through one of its bulk
    /// buffers (a quarter of the I/O operations per byte).
    pub bufs: Option<&'a BufferPool>,
    /// `option splice-request|response|auto` for this direction: a long
    /// body whose bytes need no change goes socket -> pipe -> socket.
    pub pipes: Option<&'a PipePool>,
}

impl Path<'_> {
    async fn read(&self, buf: &mut Buffer) -> Result<usize, BodyEnd> {
        within(self.timers, self.from_timeout.get(), self.from.read(buf))
            .await
            .map_err(BodyEnd::FromFail)
    }

    fn count(&self, n: u64) {
        self.bytes.set(self.bytes.get() + n);
    }

    async fn write_vec(&self, out: &mut Vec<u8>) -> Result<(), BodyEnd> {
        let v = std::mem::take(out);
        let (res, v) = match self.to_timeout.get() {
            Some(t) => match timer::timeout(self.timers, t, self.to.write_vec(v)).await {
                Ok(r) => r,
                // The vector went with the cancelled write.
                Err(()) => return Err(BodyEnd::ToFail(Fail::Timeout)),
            },
            None => self.to.write_vec(v).await,
        };
        *out = v;
        res.map_err(|_| BodyEnd::ToFail(Fail::Error))
    }

    async fn write_prefix(&self, buf: &mut Buffer, n: usize) -> Result<(), BodyEnd> {
        within(
            self.timers,
            self.to_timeout.get(),
            self.to.write_prefix(buf, n),
        )
        .await
        .map_err(BodyEnd::ToFail)
    }
}

/// The trailers' size as HAProxy counts them: each field's name and
/// value, and the end-of-trailers block's one byte.
fn trailers_size(t: &[u8]) -> u64 {
    let fields: usize = t
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let (name, value) = line.split_at(line.iter().position(|b| *b == b':')?);
            let value = ringlb_proto::h1::chars::trim_lws(value.get(1..).unwrap_or_default());
            let value = value.strip_suffix(b"\r").unwrap_or(value);
            Some(name.len() + ringlb_proto::h1::chars::trim_lws(value).len())
        })
        .sum();
    fields as u64 + 1
}

/// Above this, re-framed chunk data is written before more is decoded.
const OUT_FLUSH: usize = 16 * 1024;

/// Send `out` (a head, or nothing) followed by the body `body` that
/// starts at the beginning of `buf`, reading the rest from `path.from`.
/// The bytes after the body stay in `buf`. A head and the first body
/// bytes leave in one write.
pub async fn forward_body(
    path: &Path<'_>,
    buf: &mut Buffer,
    out: &mut Vec<u8>,
    body: Body,
) -> Result<(), BodyEnd> {
    // Body bytes already buffered count as read from the sender (a
    // chunked body counts its data and trailers as it is decoded: HAProxy
    // counts the message's payload, not its framing).
    let initial = match body {
        Body::None | Body::Tunnel | Body::Chunked => 0,
        Body::Length(n) => usize::try_from(n).unwrap_or(usize::MAX).min(buf.len()),
        Body::UntilClose => buf.len(),
    };
    path.bytes.set(path.bytes.get() + initial as u64);
    match body {
        Body::None | Body::Tunnel => path.write_vec(out).await,
        Body::Length(n) => length(path, buf, out, n).await,
        Body::UntilClose => until_close(path, buf, out).await,
        Body::Chunked => chunks(path, buf, out).await,
    }
}

async fn length(
    path: &Path<'_>,
    buf: &mut Buffer,
    out: &mut Vec<u8>,
    n: u64,
) -> Result<(), BodyEnd> {
    let mut left = n;
    loop {
        let m = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if !out.is_empty() {
            out.extend_from_slice(buf.data().get(..m).unwrap_or_default());
            buf.consume(m);
            path.write_vec(out).await?;
        } else if m > 0 {
            path.write_prefix(buf, m).await?;
        }
        left -= m as u64;
        if left == 0 {
            return Ok(());
        }
        // A long rest with nothing pending: through a bulk buffer, read
        // to the body's end and no further. Boxed, once per long body: its
        // state would otherwise sit in every session's task.
        if buf.is_empty() && out.is_empty() && left >= 2 * buf.size() as u64 {
            if let Some(pipe) = path.pipes.and_then(PipePool::get) {
                return Box::pin(splice_body(path, pipe, Some(left))).await;
            }
            if let Some(bulk) = path.bufs.and_then(|p| p.try_get(Class::Bulk)) {
                left = Box::pin(bulk_length(path, bulk, left, buf.size() as u64)).await?;
                if left == 0 {
                    return Ok(());
                }
            }
        }
        let max = usize::try_from(left).unwrap_or(usize::MAX);
        let n = within(
            path.timers,
            path.from_timeout.get(),
            path.from.read_max(buf, max),
        )
        .await
        .map_err(BodyEnd::FromFail)?;
        if n == 0 {
            return Err(BodyEnd::FromClosed);
        }
        path.count(n as u64);
    }
}

/// Move `left` bytes of a body through `bulk` until less than `short`
/// remain; what remains.
async fn bulk_length(
    path: &Path<'_>,
    mut bulk: crate::engine::runtime::buffer::Pooled<'_>,
    mut left: u64,
    short: u64,
) -> Result<u64, BodyEnd> {
    bulk.set_reserve(0);
    while left >= short {
        let max = usize::try_from(left).unwrap_or(usize::MAX);
        let n = within(
            path.timers,
            path.from_timeout.get(),
            path.from.read_max(&mut bulk, max),
        )
        .await
        .map_err(BodyEnd::FromFail)?;
        if n == 0 {
            return Err(BodyEnd::FromClosed);
        }
        path.count(n as u64);
        left -= n as u64;
        within(
            path.timers,
            path.to_timeout.get(),
            path.to.write_all(&mut bulk),
        )
        .await
        .map_err(BodyEnd::ToFail)?;
    }
    Ok(left)
}

/// Move a body through a pipe of the core's pool: `len` bytes, or until
/// the sender closes (None). Both sockets go non-blocking (splice(2) must
/// not block the core; io_uring's operations on them are unaffected, as
/// the TCP pump's splicing relies on). Each wait for readiness runs under
/// its side's timeout.
async fn splice_body(path: &Path<'_>, pipe: Lease<'_>, len: Option<u64>) -> Result<(), BodyEnd> {
    let from_fail = BodyEnd::FromFail(Fail::Error);
    let to_fail = BodyEnd::ToFail(Fail::Error);
    for c in [path.from, path.to] {
        socket2::SockRef::from(c)
            .set_nonblocking(true)
            .map_err(|_| from_fail)?;
    }
    let from_ready = path.from.readiness().map_err(|_| from_fail)?;
    let to_ready = path.to.readiness().map_err(|_| to_fail)?;
    let mut left = len;
    while left != Some(0) {
        let max = left.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let mut in_pipe = match splice::fill(path.from, &pipe, max) {
            Ok(splice::Step::Moved(n)) => n,
            Ok(splice::Step::WouldBlock) => {
                within(
                    path.timers,
                    path.from_timeout.get(),
                    from_ready.read_ready(),
                )
                .await
                .map_err(BodyEnd::FromFail)?;
                continue;
            }
            Ok(splice::Step::Eof) if len.is_none() => break,
            Ok(splice::Step::Eof) => return Err(BodyEnd::FromClosed),
            Err(_) => return Err(from_fail),
        };
        path.count(in_pipe as u64);
        left = left.map(|l| l.saturating_sub(in_pipe as u64));
        while in_pipe > 0 {
            match splice::drain(&pipe, path.to, in_pipe) {
                Ok(splice::Step::Moved(m)) => in_pipe = in_pipe.saturating_sub(m),
                Ok(splice::Step::WouldBlock | splice::Step::Eof) => {
                    within(path.timers, path.to_timeout.get(), to_ready.write_ready())
                        .await
                        .map_err(BodyEnd::ToFail)?;
                }
                Err(_) => return Err(to_fail),
            }
        }
    }
    pipe.recycle();
    Ok(())
}

async fn until_close(path: &Path<'_>, buf: &mut Buffer, out: &mut Vec<u8>) -> Result<(), BodyEnd> {
    loop {
        // A read that filled the buffer says a bulk flow: to the pipe when
        // splicing is on and one is free (HAProxy's splice-auto idea).
        if buf.room() == 0 && out.is_empty() {
            if let Some(pipe) = path.pipes.and_then(PipePool::get) {
                let n = buf.len();
                path.write_prefix(buf, n).await?;
                return Box::pin(splice_body(path, pipe, None)).await;
            }
        }
        if !out.is_empty() {
            out.extend_from_slice(buf.data());
            buf.clear();
            path.write_vec(out).await?;
        } else if !buf.is_empty() {
            let n = buf.len();
            path.write_prefix(buf, n).await?;
        }
        let n = path.read(buf).await?;
        if n == 0 {
            return Ok(());
        }
        path.count(n as u64);
    }
}

async fn chunks(path: &Path<'_>, buf: &mut Buffer, out: &mut Vec<u8>) -> Result<(), BodyEnd> {
    let mut dec = Decoder::new(buf.max_input());
    loop {
        let step = dec.step(buf.data()).map_err(|_| BodyEnd::Invalid)?;
        match step {
            Step::NeedMore => {
                if !out.is_empty() {
                    path.write_vec(out).await?;
                }
                if buf.room() == 0 {
                    return Err(BodyEnd::Invalid);
                }
                if path.read(buf).await? == 0 {
                    return Err(BodyEnd::FromClosed);
                }
            }
            Step::Framing(n) => buf.consume(n),
            Step::Data(n) => {
                path.count(n as u64);
                chunked::write_size(n as u64, out);
                out.extend_from_slice(buf.data().get(..n).unwrap_or_default());
                out.extend_from_slice(b"\r\n");
                buf.consume(n);
                if out.len() >= OUT_FLUSH {
                    path.write_vec(out).await?;
                }
            }
            Step::End(n) => {
                let trailers = buf.data().get(..n).unwrap_or_default();
                path.count(trailers_size(trailers));
                out.extend_from_slice(b"0\r\n");
                out.extend_from_slice(trailers);
                buf.consume(n);
                return path.write_vec(out).await;
            }
        }
    }
}
