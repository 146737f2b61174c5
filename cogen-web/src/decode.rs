//! Request body decoding: the incremental `chunked` decoder (RFC 9112 §7.1), which takes bytes
//! as they arrive and never needs more than it is given.

use crate::error::ProtocolError;

/// Largest trailer section accepted, in bytes.
const MAX_TRAILER_BYTES: usize = 8 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Size { value: u64, digits: u8 },
    Ext,
    SizeLf,
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLineLf,
    FinalLf,
    Done,
}

/// Decodes a chunked body incrementally; trailers are checked for syntax and dropped.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// The size of the chunk whose size line is being read.
    size: u64,
    total: u64,
    max_body: u64,
    trailer_bytes: usize,
}

fn bad(what: &'static str) -> ProtocolError {
    ProtocolError::BadRequest(what)
}

impl ChunkedDecoder {
    pub(crate) fn new(max_body: u64) -> Self {
        ChunkedDecoder {
            state: State::Size { value: 0, digits: 0 },
            size: 0,
            total: 0,
            max_body,
            trailer_bytes: 0,
        }
    }

    /// True once the last chunk and the trailer section were read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending at most `max_out` body bytes to `out`. Returns the
    /// number of input bytes consumed; it stops early once done or once `max_out` is reached.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_out: usize,
    ) -> Result<usize, ProtocolError> {
        let mut i = 0;
        let start_len = out.len();
        while i < input.len() {
            let b = input[i];
            self.state = match self.state {
                State::Done => break,
                State::Size { value, digits } => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= 16 {
                            return Err(bad("chunk size too large"));
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                        State::Size { value: value * 16 + d, digits: digits + 1 }
                    }
                    b';' | b' ' | b'\t' if digits > 0 => {
                        self.size = value;
                        State::Ext
                    }
                    b'\r' if digits > 0 => {
                        self.size = value;
                        State::SizeLf
                    }
                    _ => return Err(bad("invalid chunk size")),
                },
                State::Ext => match b {
                    b'\r' => State::SizeLf,
                    b'\n' => return Err(bad("bare LF in chunk extension")),
                    _ => State::Ext,
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(bad("chunk size line not ended by CRLF"));
                    }
                    self.state_after_size()?
                }
                State::Data(remaining) => {
                    let room = max_out.saturating_sub(out.len() - start_len);
                    if room == 0 {
                        break;
                    }
                    let n = (remaining as usize).min(input.len() - i).min(room);
                    out.extend_from_slice(&input[i..i + n]);
                    i += n;
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::DataCr } else { State::Data(left) };
                    continue;
                }
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataLf if b == b'\n' => State::Size { value: 0, digits: 0 },
                State::DataCr | State::DataLf => return Err(bad("chunk data not ended by CRLF")),
                State::TrailerStart => match b {
                    b'\r' => State::FinalLf,
                    b'\n' => return Err(bad("bare LF in trailers")),
                    _ => self.trailer_byte()?,
                },
                State::TrailerLine => match b {
                    b'\r' => State::TrailerLineLf,
                    b'\n' => return Err(bad("bare LF in trailers")),
                    _ => self.trailer_byte()?,
                },
                State::TrailerLineLf if b == b'\n' => State::TrailerStart,
                State::FinalLf if b == b'\n' => State::Done,
                State::TrailerLineLf | State::FinalLf => {
                    return Err(bad("trailer line not ended by CRLF"));
                }
            };
            i += 1;
        }
        Ok(i)
    }

    fn state_after_size(&mut self) -> Result<State, ProtocolError> {
        let value = self.size;
        if value == 0 {
            return Ok(State::TrailerStart);
        }
        self.total = self.total.saturating_add(value);
        if self.total > self.max_body {
            return Err(ProtocolError::BodyTooLarge);
        }
        Ok(State::Data(value))
    }

    fn trailer_byte(&mut self) -> Result<State, ProtocolError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(ProtocolError::HeadersTooLarge);
        }
        Ok(State::TrailerLine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"5;name=val\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: t\r\n\r\nNEXT";

    /// Feeds `input` in pieces cut at `cuts`, as bytes would arrive.
    fn feed(input: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, usize), ProtocolError> {
        let mut d = ChunkedDecoder::new(1 << 20);
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut consumed_total = 0;
        let mut bounds = cuts.to_vec();
        bounds.push(input.len());
        let mut prev = 0;
        for &b in &bounds {
            buf.extend_from_slice(&input[prev..b]);
            prev = b;
            let n = d.decode(&buf, &mut out, usize::MAX)?;
            consumed_total += n;
            buf.drain(..n);
            if d.is_done() {
                break;
            }
        }
        assert!(d.is_done(), "not done after all input");
        Ok((out, consumed_total))
    }

    #[test]
    fn decodes_the_same_whatever_the_split() {
        let end = BODY.len() - 4;
        for cut in 0..=BODY.len() {
            let (out, consumed) = feed(BODY, &[cut]).expect("valid body");
            assert_eq!(out, b"helloabcdefghijklmnopqrstuvwxyz", "cut at {cut}");
            assert_eq!(consumed, end, "cut at {cut}: the next request's bytes stay");
        }
        for a in 0..BODY.len() {
            for b in a..BODY.len() {
                let (out, _) = feed(BODY, &[a, b]).expect("valid body");
                assert_eq!(out.len(), 31);
            }
        }
    }

    #[test]
    fn rejects_malformed_chunks() {
        for bad_body in [
            &b"g\r\n"[..],
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n",
            b"\r\n",
            b"0\r\nTrailer\n\r\n",
            b"11111111111111111\r\n",
        ] {
            let mut d = ChunkedDecoder::new(1 << 20);
            assert!(d.decode(bad_body, &mut Vec::new(), usize::MAX).is_err(), "{bad_body:?}");
        }
    }

    #[test]
    fn enforces_the_body_limit_and_the_output_bound() {
        let mut d = ChunkedDecoder::new(4);
        assert_eq!(
            d.decode(b"5\r\nhello\r\n", &mut Vec::new(), usize::MAX),
            Err(ProtocolError::BodyTooLarge)
        );
        let mut d = ChunkedDecoder::new(100);
        let mut out = Vec::new();
        let n = d.decode(b"5\r\nhello\r\n0\r\n\r\n", &mut out, 2).expect("valid");
        assert_eq!(out, b"he");
        assert_eq!(n, 5);
    }
}
