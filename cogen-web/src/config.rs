//! Server limits and timeouts, with their defaults.

use std::time::Duration;

/// Longest accepted request head (request line and headers), in bytes. 16 KiB is more than
/// any browser sends and bounds what a slow client can make us buffer.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most headers in one request; beyond that, 431.
pub const DEFAULT_MAX_HEADERS: usize = 64;
/// Longest request target, in bytes; beyond that, 414.
pub const DEFAULT_MAX_URI: usize = 8 * 1024;
/// Largest request body, in bytes; beyond that, 413.
pub const DEFAULT_MAX_BODY: u64 = 8 * 1024 * 1024;
/// Time to receive a whole request head once its first byte arrived (slowloris guard: a
/// fixed deadline, not extended by progress).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle keep-alive connection waits for its next request.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Inactivity timeout while reading a request body (weak: each chunk extends it).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Unread body bytes the server drains before the next request; beyond that it closes.
pub const DEFAULT_MAX_DRAIN: u64 = 256 * 1024;
/// Inactivity timeout while sending a response (weak: any bytes the client takes extend it),
/// as nginx's `send_timeout`: a client that asks for a large file and never reads would
/// otherwise hold the socket, the open file and a connection slot forever. When it expires
/// the connection is closed.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the server reads and discards after refusing a request or closing with input
/// unread (a lingering close, as nginx's `lingering_timeout`): the write side is shut down
/// first, so the client sees the response and then the end; closing at once would make the
/// kernel answer the unread input with a reset, which can destroy the response before the
/// client reads it.
pub const DEFAULT_LINGER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long requests in flight get to finish when a signal asks the server to stop (see
/// [`Server::shutdown_on_signals`](crate::Server::shutdown_on_signals)).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Connections served at once; beyond that, new ones wait in the listen backlog and accepting
/// resumes as others close. Each costs a coroutine and a socket, so the bound is generous.
/// It bounds one [`Server`](crate::Server): in a [`MultiServer`](crate::MultiServer) it is
/// per worker (the process serves at most `workers ×` this many).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The server's limits and timeouts, given to [`Server::with_config`](crate::Server::with_config).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let c = cogen_web::Config::default();
/// assert_eq!(c.max_headers, cogen_web::config::DEFAULT_MAX_HEADERS);
/// // A refused client gets 2 s to stop sending before the connection closes; a client must
/// // take some of a response every 10 s, or the connection closes.
/// let c = cogen_web::Config {
///     linger_timeout: Duration::from_secs(2),
///     send_timeout: Duration::from_secs(10),
///     ..c
/// };
/// # let _ = c;
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// See [`DEFAULT_MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
    /// See [`DEFAULT_MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`DEFAULT_MAX_URI`].
    pub max_uri: usize,
    /// See [`DEFAULT_MAX_BODY`].
    pub max_body: u64,
    /// See [`DEFAULT_HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`DEFAULT_KEEP_ALIVE_TIMEOUT`].
    pub keep_alive_timeout: Duration,
    /// See [`DEFAULT_BODY_TIMEOUT`].
    pub body_timeout: Duration,
    /// See [`DEFAULT_MAX_DRAIN`].
    pub max_drain: u64,
    /// See [`DEFAULT_SEND_TIMEOUT`].
    pub send_timeout: Duration,
    /// See [`DEFAULT_LINGER_TIMEOUT`].
    pub linger_timeout: Duration,
    /// See [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`DEFAULT_SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
    /// Give back a keep-alive connection's input and output buffers while it waits for its
    /// next request (they are allocated again when the request comes). Off by default: it
    /// saves about 3.2 KB per idle TLS connection (1.1 KB over plain TCP), and costs every
    /// request a wait for readiness before its read, an allocation, a free and the zeroing of
    /// the input buffer: +1,600 instructions per keep-alive request over plain TCP, +2,600
    /// over TLS, a quarter more (measured in `docs/benchmarks.md`). For servers that hold
    /// many idle connections and answer few requests on each.
    pub release_idle_buffers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_uri: DEFAULT_MAX_URI,
            max_body: DEFAULT_MAX_BODY,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_drain: DEFAULT_MAX_DRAIN,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            linger_timeout: DEFAULT_LINGER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            release_idle_buffers: false,
        }
    }
}
