//! Response encoding: the head (status line, the handler's headers, `date`, the framing
//! and persistence headers), body bytes in the response's framing, and the response's end.

use std::io::Write as _;

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, StatusCode};

use crate::error::Error;
use crate::framing::Framing;
use crate::io::{Conn, Writing};

/// The output buffer's first capacity: a response head and a small body fit.
const OUT_START: usize = 1024;

fn status_has_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Encodes the head into the connection's output and fixes the framing.
pub(crate) fn start_head<'h>(
    conn: &Conn,
    status: StatusCode,
    headers: impl Iterator<Item = (&'h HeaderName, &'h HeaderValue)>,
    length: Option<u64>,
) -> Result<(), Error> {
    let mut state = conn.state.borrow_mut();
    if state.started() {
        return Err(Error::Response("the response was already started"));
    }
    let mut out = conn.out.borrow_mut();
    if out.capacity() == 0 {
        // The connection's first response: one allocation, kept for the next ones (`flush`
        // gives the buffer back), instead of one held by every connection from its accept.
        out.reserve(OUT_START);
    }
    let reason = status.canonical_reason().unwrap_or("");
    if status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut declared: Option<u64> = length;
    for (name, value) in headers {
        if name == TRANSFER_ENCODING || name == DATE {
            continue; // the server frames the body and dates the response itself
        }
        if name == CONTENT_LENGTH {
            // Written once, after the date, whatever the handler gave (RFC 9110 §8.6: a
            // repeated length must be the same value).
            if length.is_none() {
                let value: Option<u64> = value.to_str().ok().and_then(|v| v.trim().parse().ok());
                match (declared, value) {
                    (_, None) => return Err(Error::InvalidHeader("content-length".into())),
                    (Some(d), Some(v)) if d != v => {
                        return Err(Error::InvalidHeader(
                            "content-length (differing values)".into(),
                        ));
                    }
                    (_, v) => declared = v,
                }
            }
            continue;
        }
        if name == CONNECTION {
            if value.as_bytes().eq_ignore_ascii_case(b"close") {
                state.disable_keep_alive();
            }
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    conn.append_date(&mut out);
    let mut framing = if !status_has_body(status) {
        Framing::Empty
    } else if let Some(n) = declared {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
        Framing::Length(n)
    } else if state.http10 {
        Framing::Close
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    };
    if state.head_request && framing == Framing::Close {
        // A HEAD answer has the headers of the GET answer, and no body to delimit.
        framing = Framing::Empty;
    }
    if framing == Framing::Close {
        state.disable_keep_alive(); // the body ends with the connection
    }
    if conn.buffered() > 0 {
        // Persistence is decided now, before the head goes out: a client that sent its body
        // without waiting for `100 Continue` gets it drained, not a close.
        state.body_sent_unasked();
    }
    if !state.persists(conn.draining()) {
        state.disable_keep_alive(); // announced: the connection closes whatever follows
        out.extend_from_slice(b"connection: close\r\n");
    } else if state.http10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    state.writing = Writing::Body(framing);
    state.status = Some(status);
    Ok(())
}

/// Appends body bytes in the response's framing.
pub(crate) fn append_body(conn: &Conn, data: &[u8]) -> Result<(), Error> {
    let mut state = conn.state.borrow_mut();
    let framing = match &mut state.writing {
        Writing::Body(framing) => framing,
        Writing::Init => return Err(Error::Response("body bytes before the head")),
        Writing::Done => return Err(Error::Response("write after the response ended")),
    };
    if let Framing::Length(left) = framing {
        if data.len() as u64 > *left {
            return Err(Error::Response("body longer than its content-length"));
        }
        *left -= data.len() as u64;
    }
    let framing = *framing;
    if state.head_request || data.is_empty() {
        return Ok(());
    }
    if framing != Framing::Empty {
        state.body_bytes += data.len() as u64;
    }
    let mut out = conn.out.borrow_mut();
    match framing {
        Framing::Empty => {}
        Framing::Chunked => {
            let _ = write!(out, "{:x}\r\n", data.len());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Length(_) | Framing::Close => out.extend_from_slice(data),
    }
    Ok(())
}

/// Ends the response after the handler returned: an empty `200 OK` if it wrote nothing, the
/// last chunk if chunked.
///
/// # Errors
///
/// `Error::Response` if a `content-length` body fell short (the connection must close).
pub(crate) fn finish(conn: &Conn) -> Result<(), Error> {
    let writing = conn.state.borrow().writing;
    match writing {
        Writing::Done => Ok(()),
        Writing::Init => {
            start_head(conn, StatusCode::OK, std::iter::empty(), Some(0))?;
            conn.state.borrow_mut().writing = Writing::Done;
            Ok(())
        }
        Writing::Body(framing) => {
            let mut state = conn.state.borrow_mut();
            state.writing = Writing::Done;
            match framing {
                Framing::Chunked if !state.head_request => {
                    conn.out.borrow_mut().extend_from_slice(b"0\r\n\r\n");
                    Ok(())
                }
                Framing::Length(left) if left > 0 && !state.head_request => {
                    state.disable_keep_alive();
                    Err(Error::Response("body shorter than its content-length"))
                }
                _ => Ok(()),
            }
        }
    }
}
