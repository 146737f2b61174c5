//! Cogen's own TLS 1.3 record layer on the server (`tls/records.rs`), against a client that
//! seals and opens its records itself with ring's AEAD (RFC 8446 §5), after a handshake run by
//! rustls's unbuffered client and its secrets taken with `dangerous_into_kernel_connection`:
//! empty and padded records, key updates (split, malformed, answered, and the server's own
//! refresh), and each malformed record's error on the server and the alert it sends.

mod util;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use cogen::net::TcpListener;
use cogen::prelude::*;
use cogen::tls::TlsAcceptor;
use cogen::tls::rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use cogen::tls::rustls::kernel::KernelConnection;
use cogen::tls::rustls::unbuffered::{ConnectionState, EncodeError, InsufficientSizeError};
use cogen::tls::rustls::{self, ClientConfig, ConnectionTrafficSecrets, RootCertStore};
use ring::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use util::tls::TestCert;
use util::{any_port, guard, result, run};

const HEADER_LEN: usize = 5;
const TAG_LEN: usize = 16;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

const HANDSHAKE_NEW_SESSION_TICKET: u8 = 4;
const HANDSHAKE_KEY_UPDATE: u8 = 24;

const ALERT_WARNING: u8 = 1;
const ALERT_FATAL: u8 = 2;
const ALERT_CLOSE_NOTIFY: u8 = 0;
const ALERT_UNEXPECTED_MESSAGE: u8 = 10;
const ALERT_BAD_RECORD_MAC: u8 = 20;
const ALERT_RECORD_OVERFLOW: u8 = 22;
const ALERT_HANDSHAKE_FAILURE: u8 = 40;
const ALERT_DECODE_ERROR: u8 = 50;

/// What the server writes once its handshake is over: the client sends its hand-made
/// records only after reading it, so they reach cogen's records and not rustls's.
const READY: &[u8] = b"ready";

/// How long a server read waits: bounds a test whose server would otherwise wait forever.
const SERVER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server read after a failed one waits (it should fail at once).
const READ_AFTER_FAILURE_TIMEOUT: Duration = Duration::from_secs(2);

/// One direction's AEAD key, IV and sequence number.
struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl Keys {
    fn new(secrets: ConnectionTrafficSecrets, seq: u64) -> io::Result<Self> {
        let (algorithm, key, iv) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => return Err(io::Error::other("a suite this client does not seal")),
        };
        let key = UnboundKey::new(algorithm, key.as_ref())
            .map_err(|_| io::Error::other("a bad traffic key"))?;
        let iv = iv.as_ref().try_into().map_err(|_| io::Error::other("a bad IV"))?;
        Ok(Keys { key: LessSafeKey::new(key), iv, seq })
    }

    /// The next record's nonce: the IV XOR the big-endian sequence number (RFC 8446 §5.3).
    fn next_nonce(&mut self) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        Nonce::assume_unique_for_key(nonce)
    }
}

/// What the server sent, record by record (message by message in a handshake record), or
/// the end of the TCP stream.
#[derive(Debug, PartialEq)]
enum FromServer {
    Data(Vec<u8>),
    /// A `NewSessionTicket` (skipped; the server may put two in one record).
    Ticket,
    /// A `KeyUpdate`, after which the client's receive key has switched.
    KeyUpdate {
        requested: bool,
    },
    Alert {
        level: u8,
        code: u8,
    },
    End,
}

/// A TLS 1.3 client whose records after the handshake are its own: rustls's unbuffered
/// client runs the handshake, then gives the traffic secrets and a [`KernelConnection`]
/// for the next keys.
struct OwnClient {
    sock: std::net::TcpStream,
    kernel: KernelConnection<ClientConnectionData>,
    tx: Keys,
    rx: Keys,
    /// Received bytes not yet a whole record.
    received: Vec<u8>,
    /// Opened records not yet taken (a record may hold several handshake messages).
    opened: VecDeque<FromServer>,
    /// The server's records up to its [`READY`] (its tickets, and READY).
    opening: Vec<FromServer>,
    /// For each `KeyUpdate` received, the records the server had sent under the key it
    /// replaces, before it (the `KeyUpdate`'s sequence number).
    key_update_seqs: Vec<u64>,
}

/// A TLS 1.3-only client configuration trusting `cert`, with secret extraction on.
fn client_config(cert: &TestCert) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.clone()).map_err(io::Error::other)?;
    let mut cfg = ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.enable_secret_extraction = true;
    Ok(Arc::new(cfg))
}

/// What the handshake loop does after rustls's state is released.
enum Step {
    Receive,
    Done,
    Again,
}

impl OwnClient {
    /// Connects, runs the handshake on rustls's unbuffered client, takes the secrets and
    /// reads the server's [`READY`] (skipping its tickets).
    fn connect(addr: SocketAddr, cfg: Arc<ClientConfig>) -> io::Result<Self> {
        let mut sock = std::net::TcpStream::connect(addr)?;
        guard(&sock)?;
        sock.set_nodelay(true)?;
        let name =
            rustls::pki_types::ServerName::try_from("localhost").map_err(io::Error::other)?;
        let mut conn = UnbufferedClientConnection::new(cfg, name).map_err(io::Error::other)?;
        let mut received = Vec::new();
        let mut outgoing = Vec::new();
        loop {
            let status = conn.process_tls_records(&mut received);
            let discard = status.discard;
            let step = match status.state.map_err(io::Error::other)? {
                ConnectionState::EncodeTlsData(mut enc) => {
                    let start = outgoing.len();
                    outgoing.resize(start + 4096, 0);
                    let n = match enc.encode(&mut outgoing[start..]) {
                        Ok(n) => n,
                        Err(EncodeError::InsufficientSize(InsufficientSizeError {
                            required_size,
                        })) => {
                            outgoing.resize(start + required_size, 0);
                            enc.encode(&mut outgoing[start..]).map_err(io::Error::other)?
                        }
                        Err(e) => return Err(io::Error::other(e)),
                    };
                    outgoing.truncate(start + n);
                    Step::Again
                }
                ConnectionState::TransmitTlsData(tx) => {
                    sock.write_all(&outgoing)?;
                    outgoing.clear();
                    tx.done();
                    Step::Again
                }
                ConnectionState::BlockedHandshake => Step::Receive,
                ConnectionState::WriteTraffic(_) => Step::Done,
                _ => return Err(io::Error::other("unexpected state in the client's handshake")),
            };
            received.drain(..discard);
            match step {
                Step::Again => {}
                Step::Done => break,
                Step::Receive => {
                    let mut buf = [0; 8192];
                    let n = sock.read(&mut buf)?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    received.extend_from_slice(&buf[..n]);
                }
            }
        }
        let (secrets, kernel) =
            conn.dangerous_into_kernel_connection().map_err(io::Error::other)?;
        let mut c = OwnClient {
            sock,
            kernel,
            tx: Keys::new(secrets.tx.1, secrets.tx.0)?,
            rx: Keys::new(secrets.rx.1, secrets.rx.0)?,
            received,
            opened: VecDeque::new(),
            opening: Vec::new(),
            key_update_seqs: Vec::new(),
        };
        c.opening = c.read_data(READY.len())?;
        if data_of(&c.opening) != READY {
            let got = &c.opening;
            return Err(io::Error::other(format!("expected the server's ready, got {got:?}")));
        }
        Ok(c)
    }

    /// A record protecting `inner` (a whole TLSInnerPlaintext), under the send key.
    fn seal_inner(&mut self, inner: &[u8]) -> io::Result<Vec<u8>> {
        let len = u16::try_from(inner.len() + TAG_LEN).map_err(io::Error::other)?;
        let [hi, lo] = len.to_be_bytes();
        let header = [CONTENT_APPLICATION_DATA, 3, 3, hi, lo];
        let mut body = inner.to_vec();
        let nonce = self.tx.next_nonce();
        self.tx
            .key
            .seal_in_place_append_tag(nonce, Aad::from(header), &mut body)
            .map_err(|_| io::Error::other("seal failed"))?;
        let mut wire = header.to_vec();
        wire.extend_from_slice(&body);
        Ok(wire)
    }

    /// A record of `content` with inner content type `content_type` and `padding` zeros.
    fn seal(&mut self, content_type: u8, content: &[u8], padding: usize) -> io::Result<Vec<u8>> {
        let mut inner = content.to_vec();
        inner.push(content_type);
        inner.resize(inner.len() + padding, 0);
        self.seal_inner(&inner)
    }

    fn send(&mut self, wire: &[u8]) -> io::Result<()> {
        self.sock.write_all(wire)
    }

    fn send_data(&mut self, data: &[u8]) -> io::Result<()> {
        let wire = self.seal(CONTENT_APPLICATION_DATA, data, 0)?;
        self.send(&wire)
    }

    /// Switches the send key to the next one (after sending a `KeyUpdate`).
    fn update_tx_key(&mut self) -> io::Result<()> {
        let (seq, secrets) = self.kernel.update_tx_secret().map_err(io::Error::other)?;
        self.tx = Keys::new(secrets, seq)?;
        Ok(())
    }

    /// The next record from the server, opened.
    fn next(&mut self) -> io::Result<FromServer> {
        loop {
            if let Some(got) = self.opened.pop_front() {
                return Ok(got);
            }
            if let Some(len) = whole_record_len(&self.received) {
                let record: Vec<u8> = self.received.drain(..len).collect();
                self.open(record)?;
                continue;
            }
            let mut buf = [0; 32 * 1024];
            let n = self.sock.read(&mut buf)?;
            if n == 0 {
                if !self.received.is_empty() {
                    return Err(io::Error::other("the server's stream ended mid-record"));
                }
                return Ok(FromServer::End);
            }
            self.received.extend_from_slice(&buf[..n]);
        }
    }

    /// Opens one whole record into `opened`; a `KeyUpdate` switches the receive key.
    fn open(&mut self, mut record: Vec<u8>) -> io::Result<()> {
        let header: [u8; HEADER_LEN] = record[..HEADER_LEN].try_into().map_err(io::Error::other)?;
        if header[0] != CONTENT_APPLICATION_DATA || header[1..3] != [3, 3] {
            return Err(io::Error::other(format!("a bad record header {header:?}")));
        }
        let nonce = self.rx.next_nonce();
        let plain = self
            .rx
            .key
            .open_in_place(nonce, Aad::from(header), &mut record[HEADER_LEN..])
            .map_err(|_| io::Error::other("a server record does not decrypt"))?;
        let type_at = plain
            .iter()
            .rposition(|&b| b != 0)
            .ok_or_else(|| io::Error::other("an all-zero inner plaintext"))?;
        let content = &plain[..type_at];
        match plain[type_at] {
            CONTENT_APPLICATION_DATA => self.opened.push_back(FromServer::Data(content.to_vec())),
            CONTENT_ALERT => match *content {
                [level, code] => self.opened.push_back(FromServer::Alert { level, code }),
                _ => return Err(io::Error::other("a bad alert")),
            },
            CONTENT_HANDSHAKE => {
                let messages = content.to_vec();
                self.handshake_messages(&messages)?;
            }
            other => return Err(io::Error::other(format!("inner content type {other}"))),
        }
        Ok(())
    }

    /// Takes the post-handshake messages of one record (none split across records).
    fn handshake_messages(&mut self, mut messages: &[u8]) -> io::Result<()> {
        while let [typ, a, b, c, rest @ ..] = messages {
            let len = usize::from_be_bytes([0, 0, 0, 0, 0, *a, *b, *c]);
            if rest.len() < len {
                return Err(io::Error::other("a handshake message split over records"));
            }
            let (body, next) = rest.split_at(len);
            match (*typ, body) {
                (HANDSHAKE_NEW_SESSION_TICKET, _) => self.opened.push_back(FromServer::Ticket),
                (HANDSHAKE_KEY_UPDATE, [request @ (0 | 1)]) => {
                    self.key_update_seqs.push(self.rx.seq - 1);
                    let (seq, secrets) =
                        self.kernel.update_rx_secret().map_err(io::Error::other)?;
                    self.rx = Keys::new(secrets, seq)?;
                    self.opened.push_back(FromServer::KeyUpdate { requested: *request == 1 });
                }
                _ => return Err(io::Error::other(format!("handshake message {typ}: {body:?}"))),
            }
            messages = next;
        }
        if messages.is_empty() {
            Ok(())
        } else {
            Err(io::Error::other("a handshake message split over records"))
        }
    }

    /// The server's records up to `n` bytes of data (tickets and key updates included); an
    /// alert or the end first is an error.
    fn read_data(&mut self, n: usize) -> io::Result<Vec<FromServer>> {
        let mut log = Vec::new();
        let mut got = 0;
        while got < n {
            match self.next()? {
                FromServer::Data(d) => {
                    got += d.len();
                    log.push(FromServer::Data(d));
                }
                other @ (FromServer::Ticket | FromServer::KeyUpdate { .. }) => log.push(other),
                other => {
                    return Err(io::Error::other(format!("expected data, got {other:?}")));
                }
            }
        }
        Ok(log)
    }

    /// The next record, tickets skipped.
    fn next_but_tickets(&mut self) -> io::Result<FromServer> {
        loop {
            match self.next()? {
                FromServer::Ticket => {}
                other => return Ok(other),
            }
        }
    }

    /// The code of the alert the server sends next, checking that it is fatal and that the
    /// server then closes the connection.
    fn expect_fatal_alert(&mut self) -> io::Result<u8> {
        let code = match self.next_but_tickets()? {
            FromServer::Alert { level: ALERT_FATAL, code } => code,
            other => {
                return Err(io::Error::other(format!("expected a fatal alert, got {other:?}")));
            }
        };
        self.expect_end()?;
        Ok(code)
    }

    /// The server closes the connection with nothing more sent.
    fn expect_end(&mut self) -> io::Result<()> {
        match self.next_but_tickets()? {
            FromServer::End => Ok(()),
            other => Err(io::Error::other(format!("expected the end, got {other:?}"))),
        }
    }

    /// Sends `close_notify` and reads to the server's end: its `close_notify`, then the end.
    fn close(mut self) -> io::Result<()> {
        let wire = self.seal(CONTENT_ALERT, &[ALERT_WARNING, ALERT_CLOSE_NOTIFY], 0)?;
        self.send(&wire)?;
        match self.next_but_tickets()? {
            FromServer::Alert { level: ALERT_WARNING, code: ALERT_CLOSE_NOTIFY } => {}
            other => return Err(io::Error::other(format!("expected close_notify, got {other:?}"))),
        }
        self.expect_end()
    }
}

/// The length of the whole record at the start of `received`, if it is all there.
fn whole_record_len(received: &[u8]) -> Option<usize> {
    let header = received.get(..HEADER_LEN)?;
    let len = HEADER_LEN + usize::from(u16::from_be_bytes([header[3], header[4]]));
    (received.len() >= len).then_some(len)
}

/// The data of the records in `log`, in order.
fn data_of(log: &[FromServer]) -> Vec<u8> {
    log.iter()
        .filter_map(|r| match r {
            FromServer::Data(d) => Some(&d[..]),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// How one of the server's reads ended.
#[derive(Debug, PartialEq)]
enum ServerRead {
    Data(Vec<u8>),
    End,
    Failed(io::ErrorKind),
}

/// Accepts one connection, checks that cogen's own records took it over, writes
/// [`READY`] and echoes what it reads, until the end (answered by `close_notify`) or
/// `failures` failed reads: how each read ended.
#[coro]
fn echo_server(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    failures: usize,
) -> io::Result<Vec<ServerRead>> {
    let (tcp, _) = yield_!(listener.accept())?;
    let tls = yield_!(acceptor.accept(tcp).timeout(Duration::from_secs(10)))?;
    if tls.common_state().is_some() {
        return Err(io::Error::other("the session stayed on rustls's records"));
    }
    yield_!(tls.write_all(READY))?;
    let mut reads = Vec::new();
    let mut failed = 0;
    while failed < failures {
        let timeout = if failed == 0 { SERVER_READ_TIMEOUT } else { READ_AFTER_FAILURE_TIMEOUT };
        match yield_!(tls.read(64 * 1024).timeout(timeout)) {
            Ok(data) if data.is_empty() => {
                reads.push(ServerRead::End);
                yield_!(tls.shutdown(Shutdown::Both))?;
                break;
            }
            Ok(data) => {
                yield_!(tls.write_all(&data))?;
                reads.push(ServerRead::Data(data));
            }
            Err(e) => {
                reads.push(ServerRead::Failed(e.kind()));
                failed += 1;
            }
        }
    }
    Ok(reads)
}

/// Runs [`echo_server`] on `acceptor` (made for the test certificate) against `client`,
/// connected in a thread: how the server's reads ended.
fn with_server(
    acceptor: impl FnOnce(TlsAcceptor) -> TlsAcceptor,
    failures: usize,
    client: impl FnOnce(OwnClient) -> io::Result<()> + Send + 'static,
) -> io::Result<Vec<ServerRead>> {
    let cert = TestCert::new()?;
    let listener = TcpListener::bind(any_port())?;
    let addr = listener.local_addr()?;
    let acceptor = acceptor(TlsAcceptor::new(cert.server(&[])?));
    let cfg = client_config(&cert)?;
    let peer: JoinHandle<io::Result<()>> =
        std::thread::spawn(move || client(OwnClient::connect(addr, cfg)?));
    let mut sched = Scheduler::new();
    let s = sched.add(echo_server(listener, acceptor, failures));
    run(&mut sched)?;
    peer.join().map_err(|_| io::Error::other("client thread panicked"))??;
    result(&s)
}

/// The data the server read, in order, and how its reads ended otherwise.
fn split_reads(reads: Vec<ServerRead>) -> (Vec<u8>, Vec<ServerRead>) {
    let mut data = Vec::new();
    let mut ends = Vec::new();
    for read in reads {
        match read {
            ServerRead::Data(d) => data.extend_from_slice(&d),
            other => ends.push(other),
        }
    }
    (data, ends)
}

/// The server's reads when `bad` (made by the client) is sent after the handshake, and the
/// code of the fatal alert the client got back.
fn alert_for_record(
    bad: impl FnOnce(&mut OwnClient) -> io::Result<Vec<u8>> + Send + 'static,
) -> io::Result<(Vec<ServerRead>, u8)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let reads = with_server(
        |a| a,
        1,
        move |mut c| {
            let wire = bad(&mut c)?;
            c.send(&wire)?;
            tx.send(c.expect_fatal_alert()?).map_err(io::Error::other)
        },
    )?;
    let code = rx.recv().map_err(io::Error::other)?;
    Ok((reads, code))
}

#[test]
fn an_empty_record_between_data_records_is_skipped() -> io::Result<()> {
    let reads = with_server(
        |a| a,
        1,
        |mut c| {
            let mut wire = c.seal(CONTENT_APPLICATION_DATA, b"first", 0)?;
            wire.extend(c.seal(CONTENT_APPLICATION_DATA, b"", 0)?);
            wire.extend(c.seal(CONTENT_APPLICATION_DATA, b"second", 0)?);
            c.send(&wire)?;
            assert_eq!(data_of(&c.read_data(11)?), b"firstsecond");
            // The stream goes on after the empty record.
            c.send_data(b"third")?;
            assert_eq!(data_of(&c.read_data(5)?), b"third");
            c.close()
        },
    )?;
    let (data, ends) = split_reads(reads);
    assert_eq!(data, b"firstsecondthird");
    assert_eq!(ends, [ServerRead::End], "one end, after all the data");
    Ok(())
}

#[test]
fn a_record_padded_with_zeros_is_read() -> io::Result<()> {
    let reads = with_server(
        |a| a,
        1,
        |mut c| {
            let wire = c.seal(CONTENT_APPLICATION_DATA, b"padded\0", 100)?;
            c.send(&wire)?;
            // Zeros in the data are data; only those after the content type are padding.
            assert_eq!(data_of(&c.read_data(7)?), b"padded\0");
            // A record that is nearly all padding.
            let wire = c.seal(CONTENT_APPLICATION_DATA, b"x", 16000)?;
            c.send(&wire)?;
            assert_eq!(data_of(&c.read_data(1)?), b"x");
            c.close()
        },
    )?;
    let (data, ends) = split_reads(reads);
    assert_eq!(data, b"padded\0x");
    assert_eq!(ends, [ServerRead::End]);
    Ok(())
}

#[test]
fn a_key_update_split_over_two_records_is_answered() -> io::Result<()> {
    let reads = with_server(
        |a| a,
        1,
        |mut c| {
            // KeyUpdate(update_requested): its header in one record, its body in the next,
            // both under the old key, each in its own segment.
            let first = c.seal(CONTENT_HANDSHAKE, &[HANDSHAKE_KEY_UPDATE, 0, 0, 1], 0)?;
            c.send(&first)?;
            std::thread::sleep(Duration::from_millis(20));
            let second = c.seal(CONTENT_HANDSHAKE, &[1], 0)?;
            c.send(&second)?;
            c.update_tx_key()?;
            c.send_data(b"under the new key")?;
            let log = c.read_data(17)?;
            let log: Vec<_> = log.into_iter().filter(|r| *r != FromServer::Ticket).collect();
            assert_eq!(
                log,
                [
                    FromServer::KeyUpdate { requested: false },
                    FromServer::Data(b"under the new key".to_vec())
                ],
                "the server's KeyUpdate answers first, and its echo is under its next key"
            );
            // Both sides go on under the new keys.
            c.send_data(b"again")?;
            assert_eq!(c.read_data(5)?, [FromServer::Data(b"again".to_vec())]);
            c.close()
        },
    )?;
    let (data, ends) = split_reads(reads);
    assert_eq!(data, b"under the new keyagain");
    assert_eq!(ends, [ServerRead::End]);
    Ok(())
}

#[test]
fn a_record_between_the_pieces_of_a_split_key_update_is_unexpected() -> io::Result<()> {
    // RFC 8446 §5.1: a handshake message split over records has no record of another type
    // between its pieces. (Failed at b571c0f, where `Records::open` delivered the data record
    // and then completed the KeyUpdate; main refuses it since 0a00431.)
    let (reads, alert) = alert_for_record(|c| {
        let mut wire = c.seal(CONTENT_HANDSHAKE, &[HANDSHAKE_KEY_UPDATE, 0, 0, 1], 0)?;
        wire.extend(c.seal(CONTENT_APPLICATION_DATA, b"in between", 0)?);
        wire.extend(c.seal(CONTENT_HANDSHAKE, &[0], 0)?);
        Ok(wire)
    })?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(alert, ALERT_UNEXPECTED_MESSAGE);
    Ok(())
}

#[test]
fn a_key_update_followed_by_more_bytes_in_its_record_is_refused() -> io::Result<()> {
    let (reads, alert) = alert_for_record(|c| {
        // A KeyUpdate must end its record: here a second one follows in the same record.
        let update = [HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0];
        c.seal(CONTENT_HANDSHAKE, &[update, update].concat(), 0)
    })?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(alert, ALERT_UNEXPECTED_MESSAGE);
    Ok(())
}

#[test]
fn a_flipped_ciphertext_bit_is_bad_record_mac_and_the_error_is_kept() -> io::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let reads = with_server(
        |a| a,
        2,
        move |mut c| {
            let mut wire = c.seal(CONTENT_APPLICATION_DATA, b"tampered with", 0)?;
            wire[HEADER_LEN + 3] ^= 0x10;
            // After the alert the client waits for the server's end, sending nothing more: the
            // server's second read must fail at once with the kept error. (Fails at b571c0f:
            // with nothing received, `ServerSession::read_records` waits for input instead,
            // here until READ_AFTER_FAILURE_TIMEOUT, and on the peer's close it would give
            // UnexpectedEof.)
            c.send(&wire)?;
            tx.send(c.expect_fatal_alert()?).map_err(io::Error::other)
        },
    )?;
    assert_eq!(rx.recv().map_err(io::Error::other)?, ALERT_BAD_RECORD_MAC);
    assert_eq!(
        reads,
        [
            ServerRead::Failed(io::ErrorKind::InvalidData),
            ServerRead::Failed(io::ErrorKind::InvalidData)
        ],
        "the first read fails, and a later one gives the kept error"
    );
    Ok(())
}

#[test]
fn a_record_longer_than_tls13_allows_is_record_overflow() -> io::Result<()> {
    let (reads, alert) = alert_for_record(|_| {
        // A header announcing 2^14 + 257 bytes of ciphertext: refused on the header alone.
        let [hi, lo] = u16::try_from((1 << 14) + 257).map_err(io::Error::other)?.to_be_bytes();
        Ok(vec![CONTENT_APPLICATION_DATA, 3, 3, hi, lo])
    })?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(alert, ALERT_RECORD_OVERFLOW);
    Ok(())
}

#[test]
fn an_inner_plaintext_longer_than_2_14_plus_1_is_record_overflow() -> io::Result<()> {
    // RFC 8446 §5.4: the whole TLSInnerPlaintext, padding included, is at most 2^14 + 1
    // bytes; rustls refuses a longer one with `record_overflow`. Here: 10 bytes of data, the
    // content type and 2^14 zeros, a ciphertext (2^14 + 27 bytes) within the outer limit.
    // (Fails at b571c0f: `Records::open` bounds only the content, not the padded plaintext,
    // and delivers the 10 bytes.)
    let (reads, alert) =
        alert_for_record(|c| c.seal(CONTENT_APPLICATION_DATA, b"0123456789", 1 << 14))?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(alert, ALERT_RECORD_OVERFLOW);
    Ok(())
}

#[test]
fn an_outer_content_type_other_than_application_data_is_unexpected() -> io::Result<()> {
    // A plaintext fatal alert (outer type 21) after the handshake.
    let (reads, alert) =
        alert_for_record(|_| Ok(vec![CONTENT_ALERT, 3, 3, 0, 2, ALERT_FATAL, 40]))?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(alert, ALERT_UNEXPECTED_MESSAGE);
    Ok(())
}

#[test]
fn an_inner_change_cipher_spec_is_unexpected() -> io::Result<()> {
    let (reads, alert) = alert_for_record(|c| c.seal(CONTENT_CHANGE_CIPHER_SPEC, &[1], 0))?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(alert, ALERT_UNEXPECTED_MESSAGE);
    Ok(())
}

#[test]
fn an_all_zero_inner_plaintext_is_unexpected() -> io::Result<()> {
    // RFC 8446 §5.4: "If a receiving implementation does not find a non-zero octet in the
    // cleartext, it MUST terminate the connection with an "unexpected_message" alert."
    // (Fails at b571c0f: `InvalidMessage(InvalidContentType)` maps to decode_error.)
    let (reads, alert) = alert_for_record(|c| c.seal_inner(&[0; 20]))?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(
        alert, ALERT_UNEXPECTED_MESSAGE,
        "unexpected_message ({ALERT_UNEXPECTED_MESSAGE}), not decode_error ({ALERT_DECODE_ERROR})"
    );
    Ok(())
}

#[test]
fn a_fatal_alert_from_the_client_fails_the_read_and_is_not_answered() -> io::Result<()> {
    let reads = with_server(
        |a| a,
        1,
        |mut c| {
            let wire = c.seal(CONTENT_ALERT, &[ALERT_FATAL, ALERT_HANDSHAKE_FAILURE], 0)?;
            c.send(&wire)?;
            // No alert back: the server just closes.
            c.expect_end()
        },
    )?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    Ok(())
}

#[test]
fn a_handshake_message_other_than_key_update_is_unexpected() -> io::Result<()> {
    let (reads, alert) = alert_for_record(|c| {
        // A NewSessionTicket, which only a server sends: lifetime, age_add, an empty
        // nonce, a 1-byte ticket, no extensions.
        let body = [0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 1, 7, 0, 0];
        let len = u8::try_from(body.len()).map_err(io::Error::other)?;
        let message = [&[HANDSHAKE_NEW_SESSION_TICKET, 0, 0, len][..], &body].concat();
        c.seal(CONTENT_HANDSHAKE, &message, 0)
    })?;
    assert_eq!(reads, [ServerRead::Failed(io::ErrorKind::InvalidData)]);
    assert_eq!(alert, ALERT_UNEXPECTED_MESSAGE);
    Ok(())
}

#[test]
fn the_servers_key_is_refreshed_every_few_records() -> io::Result<()> {
    const REFRESH_AFTER: usize = 3;
    const MESSAGES: usize = 10;
    let (tx, rx) = std::sync::mpsc::channel();
    let reads = with_server(
        |a| a.with_key_refresh_after(REFRESH_AFTER as u64),
        1,
        move |mut c| {
            let mut log = std::mem::take(&mut c.opening);
            for i in 0..MESSAGES {
                let msg = format!("message {i}");
                c.send_data(msg.as_bytes())?;
                let got = c.read_data(msg.len())?;
                assert_eq!(data_of(&got), msg.as_bytes());
                log.extend(got);
            }
            let key_update_seqs = c.key_update_seqs.clone();
            c.close()?;
            tx.send((log, key_update_seqs)).map_err(io::Error::other)
        },
    )?;
    let (data, ends) = split_reads(reads);
    assert_eq!(data.len(), (0..MESSAGES).map(|i| format!("message {i}").len()).sum());
    assert_eq!(ends, [ServerRead::End]);
    let (log, key_update_seqs) = rx.recv().map_err(io::Error::other)?;
    assert!(
        log.iter().all(|r| *r != FromServer::KeyUpdate { requested: true }),
        "the server's own refresh does not ask for ours"
    );
    // 12 records or more (tickets, READY, 10 echoes): at least 3 refreshes, each after
    // REFRESH_AFTER records under the key it replaces.
    assert!(key_update_seqs.len() >= 3, "refreshes after {key_update_seqs:?} records");
    assert!(
        key_update_seqs.iter().all(|&n| n == REFRESH_AFTER as u64),
        "refreshes after {key_update_seqs:?} records"
    );
    Ok(())
}
