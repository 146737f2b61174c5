//! The connection's byte stream: plain TCP, or (feature `tls`) TLS once its handshake is
//! done, with the few operations the connection needs, each a coroutine that yields the
//! right stream's operation.

use std::fs::File;
use std::io;
use std::net::Shutdown;
use std::time::Duration;

use cogen::net::TcpStream;
use cogen::prelude::*;

/// A file is sent over TLS in pieces of this size: each is read into one buffer and
/// encrypted (no `sendfile` through userspace TLS), so a large file costs one 64 KiB buffer
/// per connection, not its size; four full TLS records per piece.
#[cfg(feature = "tls")]
const TLS_FILE_CHUNK: usize = 64 * 1024;

/// The connection's stream.
pub(crate) enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS: the TCP stream until the handshake, the TLS stream after it (boxed: a rustls
    /// connection is large, and a plain connection should not pay for it).
    #[cfg(feature = "tls")]
    Tls(Box<TlsSlot>),
}

/// A TLS connection before and after its handshake.
#[cfg(feature = "tls")]
pub(crate) struct TlsSlot {
    acceptor: cogen::tls::TlsAcceptor,
    tcp: std::cell::Cell<Option<TcpStream>>,
    tls: std::cell::OnceCell<cogen::tls::TlsStream>,
}

impl Stream {
    /// A TLS stream over `tcp`, to be accepted with `acceptor` by [`handshake`].
    #[cfg(feature = "tls")]
    pub(crate) fn tls(tcp: TcpStream, acceptor: cogen::tls::TlsAcceptor) -> Self {
        Stream::Tls(Box::new(TlsSlot {
            acceptor,
            tcp: std::cell::Cell::new(Some(tcp)),
            tls: std::cell::OnceCell::new(),
        }))
    }

    /// Shuts down without waiting (over TLS: after a `close_notify`, if the socket takes it
    /// now).
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown(how),
            #[cfg(feature = "tls")]
            Stream::Tls(slot) => match slot.tls.get() {
                Some(tls) => tls.try_shutdown(how),
                None => Err(not_established()),
            },
        }
    }
}

#[cfg(feature = "tls")]
fn not_established() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the TLS handshake has not completed")
}

/// Runs the TLS handshake, if the stream is TLS, within `timeout` (a strong deadline, like
/// the header timeout's). A plain stream has nothing to do.
#[cogen::coroutine]
pub(crate) fn handshake(stream: &Stream, timeout: Duration) -> io::Result<()> {
    match stream {
        Stream::Plain(_) => {
            let _ = timeout;
            Ok(())
        }
        #[cfg(feature = "tls")]
        Stream::Tls(slot) => {
            let Some(tcp) = slot.tcp.take() else { return Ok(()) };
            let tls = yield_!(slot.acceptor.accept(tcp).timeout(timeout).weak_timeout(false))?;
            let _ = slot.tls.set(tls);
            Ok(())
        }
    }
}

/// Waits, over TLS, until a read would complete at once, so that the caller allocates its
/// buffer only then: an idle TLS connection holds no input buffer. A plain stream returns at
/// once (its read parks by itself).
#[cogen::coroutine]
pub(crate) fn readable(stream: &Stream, timeout: Duration, weak: bool) -> io::Result<()> {
    match stream {
        Stream::Plain(_) => {
            let _ = (timeout, weak);
            Ok(())
        }
        #[cfg(feature = "tls")]
        Stream::Tls(slot) => {
            let tls = slot.tls.get().ok_or_else(not_established)?;
            yield_!(tls.readable().timeout(timeout).weak_timeout(weak))
        }
    }
}

/// Reads into `buf`; 0 at end of stream.
#[cogen::coroutine]
pub(crate) fn read_into(
    stream: &Stream,
    buf: &mut [u8],
    timeout: Duration,
    weak: bool,
) -> io::Result<usize> {
    match stream {
        Stream::Plain(s) => yield_!(s.read_into(buf).timeout(timeout).weak_timeout(weak)),
        #[cfg(feature = "tls")]
        Stream::Tls(slot) => {
            let tls = slot.tls.get().ok_or_else(not_established)?;
            yield_!(tls.read_into(buf).timeout(timeout).weak_timeout(weak))
        }
    }
}

/// Writes every byte of `data`; `send_timeout` is an inactivity timeout (any progress
/// restarts it).
#[cogen::coroutine]
pub(crate) fn write_all(stream: &Stream, data: &[u8], send_timeout: Duration) -> io::Result<usize> {
    match stream {
        Stream::Plain(s) => yield_!(s.write_all(data).timeout(send_timeout).weak_timeout(true)),
        #[cfg(feature = "tls")]
        Stream::Tls(slot) => {
            let tls = slot.tls.get().ok_or_else(not_established)?;
            yield_!(tls.write_all(data).timeout(send_timeout).weak_timeout(true))
        }
    }
}

/// Sends `len` bytes of `file` from `offset` (fewer if the file ends first): `sendfile(2)`
/// on plain TCP, bounded chunks through TLS. Gives the number sent. `send_timeout` is an
/// inactivity timeout (any progress restarts it).
#[cogen::coroutine]
pub(crate) fn send_file(
    stream: &Stream,
    file: &File,
    offset: u64,
    len: u64,
    send_timeout: Duration,
) -> io::Result<u64> {
    match stream {
        Stream::Plain(s) => {
            yield_!(s.sendfile(file, offset, len).timeout(send_timeout).weak_timeout(true))
        }
        #[cfg(feature = "tls")]
        Stream::Tls(slot) => {
            use std::os::unix::fs::FileExt;
            let tls = slot.tls.get().ok_or_else(not_established)?;
            let mut chunk =
                vec![0u8; TLS_FILE_CHUNK.min(usize::try_from(len).unwrap_or(usize::MAX))];
            let mut sent = 0u64;
            while sent < len {
                let want = chunk.len().min(usize::try_from(len - sent).unwrap_or(usize::MAX));
                let n = file.read_at(&mut chunk[..want], offset + sent)?;
                if n == 0 {
                    break; // the file ended
                }
                yield_!(tls.write_all(&chunk[..n]).timeout(send_timeout).weak_timeout(true))?;
                sent += n as u64;
            }
            Ok(sent)
        }
    }
}
