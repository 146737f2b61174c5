//! Unix domain stream sockets: `UnixListener` and `UnixStream`, with the same operations as
//! TCP.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use super::kinds::AcceptKind;
use super::source::{IoOp, Source};
use super::stream::Connect;
use super::tcp::DEFAULT_BACKLOG;

/// `listener.accept()`: the next connection (Unix peers are usually unnamed).
pub type UnixAccept<'a> = IoOp<'a, AcceptKind<UnixStream>>;

/// A Unix domain listening socket.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen::net::{UnixListener, UnixStream};
///
/// #[coro]
/// fn server(l: UnixListener) -> std::io::Result<Vec<u8>> {
///     let conn = yield_!(l.accept())?;
///     yield_!(conn.read_exact(5))
/// }
/// #[coro]
/// fn client(path: std::path::PathBuf) -> std::io::Result<usize> {
///     let s = yield_!(UnixStream::connect(&path))?;
///     yield_!(s.write_all(b"hello"))
/// }
///
/// let dir = std::env::temp_dir().join(format!("cogen-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("sock");
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let mut sched = Scheduler::new();
/// let s = sched.add(server(listener));
/// sched.add(client(path.clone()));
/// sched.run().map_err(std::io::Error::other)?;
/// assert_eq!(s.take_result().transpose().map_err(std::io::Error::other)?.transpose()?,
///            Some(b"hello".to_vec()));
/// std::fs::remove_dir_all(&dir)?;
/// Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    src: Source,
    path: PathBuf,
}

impl UnixListener {
    /// Binds and listens at `path` (which must not exist).
    ///
    /// # Errors
    ///
    /// The socket, `bind` (`AddrInUse` if the path exists) or `listen` error.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        sock.bind(&SockAddr::unix(&path)?)?;
        sock.listen(DEFAULT_BACKLOG)?;
        Ok(UnixListener { src: Source::new(sock)?, path })
    }

    /// Waits for the next connection.
    pub fn accept(&self) -> UnixAccept<'_> {
        IoOp::new(
            &self.src,
            AcceptKind { wrap: |src, _| Ok(UnixStream { src }), backoff: Default::default() },
        )
    }

    /// The path the listener is bound to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").field("path", &self.path).finish()
    }
}

/// A Unix domain stream: the operations of [`TcpStream`](super::TcpStream).
pub struct UnixStream {
    src: Source,
}

impl UnixStream {
    /// Connects to the listener at `path` without blocking the scheduler.
    ///
    /// # Errors
    ///
    /// Yields the connect error (`NotFound`, `ConnectionRefused`, ...); a path too long for a
    /// socket address gives `InvalidInput` at once.
    pub fn connect(path: impl AsRef<Path>) -> Connect<UnixStream> {
        match SockAddr::unix(path.as_ref()) {
            Ok(addr) => Connect::new(addr, |src| UnixStream { src }),
            Err(e) => Connect::failed(e, |src| UnixStream { src }),
        }
    }

    /// A connected pair of streams.
    ///
    /// # Errors
    ///
    /// `socketpair(2)`'s error.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM, None)?;
        Ok((UnixStream { src: Source::new(a)? }, UnixStream { src: Source::new(b)? }))
    }

    super::stream::stream_operations!();
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}
