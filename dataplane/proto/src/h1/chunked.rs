//! The chunked transfer coding, sans-IO: a decoder that says, step by
//! step, which bytes of its input are chunk data (to forward as they are,
//! or re-frame) and which are framing, with HAProxy's rules
//! (`h1_parse_chunk_size`, `h1_skip_chunk_crlf`, the trailers parsed as
//! header lines); and the framing an encoder writes.
//!
//! Accepted as HAProxy does: hex digits of either case, at most 13 of them
//! (a size below 2^52, so no peer's float arithmetic is fed a bogus
//! value), blanks after the size, extensions after `;` up to the line end
//! (ignored), LF alone for CRLF. Refused: an empty size, any other byte,
//! a CR not followed by LF, data not followed by a line end, a trailer
//! line that is not a header field.

use super::chars::{is_spht, is_token};

/// The largest chunk size HAProxy accepts (13 hex digits).
const MAX_CHUNK: u64 = (1 << 52) - 1;

/// What the next bytes of the input are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// More input is needed (what was given holds no complete step).
    NeedMore,
    /// The first `n` bytes are framing (a size line, the line end after
    /// data): consume them.
    Framing(usize),
    /// The first `n` bytes are chunk data: forward them and consume them.
    Data(usize),
    /// The last chunk's size line was framing; these `n` bytes are the
    /// trailer fields and the empty line that ends the message.
    End(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    ChunkSize,
    /// Chunk data not followed by CRLF or LF.
    ChunkEnd,
    Trailer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Offset in the input given to the step that failed.
    pub at: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// The decoder of one chunked body.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    /// Data bytes so far.
    pub total: u64,
    /// The longest trailer section accepted (the rest of the buffer).
    max_trailers: usize,
}

impl Decoder {
    /// `max_trailers`: the most bytes the trailers may take (they must fit
    /// in the buffer at once).
    pub fn new(max_trailers: usize) -> Decoder {
        Decoder {
            state: State::Size,
            total: 0,
            max_trailers,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// What the start of `input` is (see [`Step`]). The caller consumes
    /// what a step names before the next call.
    pub fn step(&mut self, input: &[u8]) -> Result<Step, Error> {
        match self.state {
            State::Done => Ok(Step::NeedMore),
            State::Size => self.size_line(input),
            State::Data(left) => {
                if input.is_empty() {
                    return Ok(Step::NeedMore);
                }
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                let rest = left - n as u64;
                self.total += n as u64;
                self.state = if rest == 0 {
                    State::DataEnd
                } else {
                    State::Data(rest)
                };
                Ok(Step::Data(n))
            }
            State::DataEnd => match input {
                [] | [b'\r'] => Ok(Step::NeedMore),
                [b'\n', ..] => self.framed(1, State::Size),
                [b'\r', b'\n', ..] => self.framed(2, State::Size),
                _ => Err(Error {
                    kind: ErrorKind::ChunkEnd,
                    at: 0,
                }),
            },
            State::Trailers => self.trailers(input),
        }
    }

    fn framed(&mut self, n: usize, next: State) -> Result<Step, Error> {
        self.state = next;
        Ok(Step::Framing(n))
    }

    fn size_line(&mut self, input: &[u8]) -> Result<Step, Error> {
        let bad = |at| Error {
            kind: ErrorKind::ChunkSize,
            at,
        };
        let mut size: u64 = 0;
        let mut i = 0;
        while let Some(d) = input.get(i).and_then(|c| hex(*c)) {
            size = (size << 4) | u64::from(d);
            if size > MAX_CHUNK {
                return Err(bad(i));
            }
            i += 1;
        }
        if i == input.len() {
            return Ok(Step::NeedMore);
        }
        if i == 0 {
            return Err(bad(0));
        }
        while input.get(i).copied().is_some_and(is_spht) {
            i += 1;
        }
        if input.get(i) == Some(&b';') {
            // An extension: ignored up to the line end.
            match memchr::memchr2(b'\r', b'\n', input.get(i..).unwrap_or_default()) {
                Some(e) => i += e,
                None => return Ok(Step::NeedMore),
            }
        }
        let n = match input.get(i..) {
            None | Some([] | [b'\r']) => return Ok(Step::NeedMore),
            Some([b'\n', ..]) => i + 1,
            Some([b'\r', b'\n', ..]) => i + 2,
            Some(_) => return Err(bad(i)),
        };
        self.state = if size == 0 {
            State::Trailers
        } else {
            State::Data(size)
        };
        Ok(Step::Framing(n))
    }

    /// The trailer section: header lines up to an empty line, all in
    /// `input` at once.
    fn trailers(&mut self, input: &[u8]) -> Result<Step, Error> {
        let mut pos = 0;
        loop {
            let Some(nl) = input
                .get(pos..)
                .and_then(|r| memchr::memchr(b'\n', r))
                .map(|i| pos + i)
            else {
                if input.len() >= self.max_trailers {
                    return Err(Error {
                        kind: ErrorKind::Trailer,
                        at: input.len(),
                    });
                }
                return Ok(Step::NeedMore);
            };
            let mut end = nl;
            if nl > pos && input.get(nl - 1) == Some(&b'\r') {
                end = nl - 1;
            }
            let line = input.get(pos..end).unwrap_or_default();
            if line.is_empty() {
                self.state = State::Done;
                return Ok(Step::End(nl + 1));
            }
            if !trailer_line(line) {
                return Err(Error {
                    kind: ErrorKind::Trailer,
                    at: pos,
                });
            }
            pos = nl + 1;
        }
    }
}

/// A trailer line: a token name, a colon, a value without CR (a folded
/// line, starting with a blank, continues the previous one).
fn trailer_line(line: &[u8]) -> bool {
    if line.first().copied().is_some_and(is_spht) {
        return !line.contains(&b'\r');
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    colon > 0
        && line
            .get(..colon)
            .is_some_and(|n| n.iter().all(|c| is_token(*c)))
        && !line.contains(&b'\r')
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The size line of a chunk of `len` bytes (`len` > 0), as the encoder
/// writes it: lower-case hex and CRLF.
pub fn write_size(len: u64, out: &mut Vec<u8>) {
    let digits = (64 - len.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        let d = ((len >> (i * 4)) & 0xf) as u8;
        out.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
    }
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and the empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `input` fed in pieces of `piece` bytes; the data, or the
    /// first error.
    fn decode(input: &[u8], piece: usize) -> Result<(Vec<u8>, usize), Error> {
        let mut d = Decoder::new(1024);
        let mut data = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut trailers = 0;
        loop {
            match d.step(&buf)? {
                Step::NeedMore => {
                    if fed >= input.len() || d.is_done() {
                        break;
                    }
                    let to = (fed + piece).min(input.len());
                    buf.extend_from_slice(&input[fed..to]);
                    fed = to;
                }
                Step::Framing(n) => {
                    buf.drain(..n);
                }
                Step::Data(n) => {
                    data.extend(buf.drain(..n));
                }
                Step::End(n) => {
                    trailers = n;
                    buf.drain(..n);
                }
            }
        }
        assert!(d.is_done(), "ended");
        Ok((data, trailers))
    }

    #[test]
    fn decodes_in_any_pieces() {
        let body =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
        for piece in 1..=body.len() {
            let (data, trailers) = decode(body, piece).unwrap();
            assert_eq!(data, b"Wikipedia in\r\n\r\nchunks.", "piece {piece}");
            assert_eq!(trailers, b"X-T: 1\r\n\r\n".len());
        }
        let (data, _) = decode(b"a  \nabcdefghij\n0\n\n", 3).unwrap();
        assert_eq!(data, b"abcdefghij", "bare LF and blanks after the size");
    }

    #[test]
    fn refuses_what_haproxy_refuses() {
        for (bad, kind) in [
            (&b"\r\n"[..], ErrorKind::ChunkSize),
            (b"g\r\n", ErrorKind::ChunkSize),
            (b"-1\r\n", ErrorKind::ChunkSize),
            (b"1 x\r\n", ErrorKind::ChunkSize),
            (b"1\rx", ErrorKind::ChunkSize),
            (b"10000000000000\r\n", ErrorKind::ChunkSize),
            (b"1\r\nab\r\n", ErrorKind::ChunkEnd),
            (b"0\r\nno colon\r\n\r\n", ErrorKind::Trailer),
            (b"0\r\nbad name: x\r\n\r\n", ErrorKind::Trailer),
        ] {
            let e = decode(bad, bad.len()).unwrap_err();
            assert_eq!(e.kind, kind, "{:?}", String::from_utf8_lossy(bad));
        }
        // 13 hex digits are fine.
        let mut d = Decoder::new(64);
        assert_eq!(d.step(b"fffffffffffff\r\n"), Ok(Step::Framing(15)));
    }

    #[test]
    fn trailers_must_fit() {
        let mut d = Decoder::new(8);
        assert_eq!(d.step(b"0\r\n"), Ok(Step::Framing(3)));
        assert_eq!(
            d.step(b"X-Long-Trailer"),
            Err(Error {
                kind: ErrorKind::Trailer,
                at: 14
            })
        );
    }

    #[test]
    fn writes_sizes_in_hex() {
        let mut out = Vec::new();
        for n in [1, 15, 16, 255, 4096, MAX_CHUNK] {
            out.clear();
            write_size(n, &mut out);
            let mut d = Decoder::new(8);
            assert_eq!(d.step(&out), Ok(Step::Framing(out.len())));
            assert_eq!(d.state, State::Data(n));
        }
        out.clear();
        write_size(4096, &mut out);
        assert_eq!(out, b"1000\r\n");
    }
}
