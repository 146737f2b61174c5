//! The server side's record layer on rustls's unbuffered connection
//! (`UnbufferedServerConnection`): the session owns every buffer, so an idle connection holds
//! none.
//!
//! # Implementation
//!
//! Three buffers, each empty and unallocated unless it holds bytes:
//! - `incoming`: received bytes rustls has not consumed yet (the start of an incomplete
//!   record). Bytes are received into a per-thread scratch buffer that holds the largest
//!   record, behind a copy of `incoming`; what is left after a pass moves back.
//! - `plain`: decrypted plaintext not yet handed to a reader (the rest of a record longer
//!   than the reader's buffer, or further records of the same receive).
//! - `out`: records to send (handshake flights, encrypted writes, alerts, `close_notify`),
//!   encoded straight into it and sent from it with one `send`. Once the socket took all of
//!   it, it becomes the thread's spare send buffer, which the next session to encode takes:
//!   a keep-alive connection neither allocates a buffer per response nor keeps one idle.
//!
//! One pass ([`ServerSession::pass`]) feeds the received bytes to `process_tls_records` and
//! handles each state until rustls needs more input (or, for a write, until it may encrypt):
//! handshake records are encoded into `out` and "transmitted" at once, since `out` is sent,
//! in order, before anything encoded later; application data goes to the reader or to
//! `plain`; a `close_notify` marks the end of the stream. A rustls error is kept and given
//! to every later operation.
//!
//! Once a TLS 1.3 handshake is over, the session hands its records to
//! [`Records`](super::records::Records) (cogen's own record protection on ring, with
//! rustls's [`KernelConnection`](rustls::kernel::KernelConnection) for key updates): the
//! same passes, buffers and results, with records decrypted in place in the receive buffer
//! and sealed in place in `out`. TLS 1.2 sessions stay on rustls's record layer.

use std::cell::Cell;
use std::io;

use rustls::pki_types::CertificateDer;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncodeTlsData, EncryptError, InsufficientSizeError, WriteTraffic,
};
use rustls::{CommonState, ProtocolVersion, SupportedCipherSuite};

use super::io::{Flush, Plain, SockIo, truncation_error};
use super::records::{self, Opened, Records};

/// The per-thread receive buffer: a full TLS 1.2 record (2^14 bytes of plaintext plus 2,048
/// of expansion and a 5-byte header is the most a peer may send) plus room for the start of
/// the next, so one `recv` can always complete a record.
const SCRATCH_LEN: usize = 5 + (1 << 14) + 2048 + 2048;

/// The most plaintext one `write` encrypts: four full records, as rustls's buffered
/// connection takes by default (its 64 KiB send-buffer limit).
pub(crate) const MAX_WRITE: usize = 64 * 1024;

/// Bytes of framing and expansion per record, at most, over the suites rustls offers
/// (TLS 1.2 AES-GCM: 5 header + 8 nonce + 16 tag); an estimate for sizing `out`, corrected by
/// rustls's `InsufficientSize` when short.
const RECORD_OVERHEAD: usize = 5 + 8 + 16 + 1;

/// The largest send buffer kept for reuse: one full write's records.
const SPARE_OUT_MAX: usize = MAX_WRITE + 4 * 256;

thread_local! {
    /// A send buffer no session holds, for the next one that encodes records: a keep-alive
    /// connection then neither allocates one per response nor keeps one while idle.
    static SPARE_OUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    /// The receive buffer every server session of this thread shares: a pass runs to its end
    /// within one operation step, so no two use it at once.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Who protects a session's records.
// Both cases are inline: a session holds exactly one, and boxing would cost an allocation
// per connection.
#[allow(clippy::large_enum_variant)]
enum Engine {
    /// rustls: the handshake, and TLS 1.2 sessions after it.
    Rustls(UnbufferedServerConnection),
    /// A TLS 1.3 session after its handshake: cogen's own records.
    Own(Records),
    /// The hand-over failed (its error is kept in `error`).
    Gone,
}

/// What the handshake settled, kept when rustls's connection is handed over.
#[derive(Default)]
struct Negotiated {
    alpn: Option<Vec<u8>>,
    peer_certificates: Option<Vec<CertificateDer<'static>>>,
    version: Option<ProtocolVersion>,
    suite: Option<SupportedCipherSuite>,
}

/// How an acceptor's sessions run their records after the handshake.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordOptions {
    /// Hand TLS 1.3 sessions over to [`Records`] (the default); `false` keeps rustls's.
    pub(crate) own_records: bool,
    /// Records sent under one key before it is refreshed (`None`: the suite's limit).
    pub(crate) refresh_after: Option<u64>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions { own_records: true, refresh_after: None }
    }
}

/// A server's TLS session on rustls's unbuffered API, with its own buffers.
pub(crate) struct ServerSession {
    engine: Engine,
    negotiated: Negotiated,
    options: RecordOptions,
    /// Unconsumed received bytes (the start of an incomplete record).
    incoming: Vec<u8>,
    /// Plaintext not yet read: `plain[plain_at..]`.
    plain: Vec<u8>,
    plain_at: usize,
    /// Records not yet sent: `out[out_at..]`.
    out: Vec<u8>,
    out_at: usize,
    /// The peer's `close_notify` arrived: reads give the end of stream once `plain` is read.
    peer_closed: bool,
    /// Our `close_notify` is encoded: no more writes.
    sent_close_notify: bool,
    /// The first rustls error (protocol or decryption), given to every later operation.
    error: Option<rustls::Error>,
    /// How many bytes at the start of `incoming` rustls was given during the handshake
    /// (see [`Given`]).
    handshake_seen: usize,
    /// The SNI name the client asked for (recorded by the certificate resolver).
    pub(crate) sni: Option<String>,
}

/// What a pass is for, and so where it stops.
enum Mode<'d> {
    /// Until rustls needs more input (the handshake and reads).
    Input,
    /// Until rustls lets us encrypt, then encrypt this.
    Encrypt(&'d [u8]),
    /// Until rustls lets us encrypt, then encode `close_notify`.
    CloseNotify,
}

/// What a pass during the handshake has given rustls of its input.
struct Given {
    /// The end of the complete records given (a record boundary of the received bytes:
    /// rustls may rewrite the bytes before it, joining a handshake message's pieces).
    complete_end: usize,
    /// rustls asked for more input: the next call may take one more complete record.
    more: bool,
}

impl Given {
    /// Where the next call's input ends: one more complete record if rustls asked for
    /// input and is still handshaking; an incomplete one's bytes are always given (rustls
    /// processes nothing of an incomplete record, but checks its header, so that garbage
    /// fails at once).
    fn extend(&mut self, input: &[u8], handshaking: bool) -> usize {
        if self.more
            && handshaking
            && let Some(len) = complete_record_len(&input[self.complete_end..])
        {
            self.complete_end += len;
            self.more = false;
        }
        match complete_record_len(&input[self.complete_end..]) {
            Some(_) => self.complete_end,
            None => input.len(),
        }
    }

    /// Whether a complete record follows the ones given.
    fn has_next(&self, input: &[u8]) -> bool {
        complete_record_len(&input[self.complete_end..]).is_some()
    }
}

/// The length of the complete record (header included) at the start of `input`, if it is
/// whole.
fn complete_record_len(input: &[u8]) -> Option<usize> {
    let header = input.get(..5)?;
    let len = 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
    (input.len() >= len).then_some(len)
}

/// How a pass ended.
enum End {
    /// rustls needs more input.
    NeedInput,
    /// The peer's `close_notify` (or both sides' ends) was seen.
    Closed,
    /// Encrypted this many plaintext bytes into `out` (or encoded `close_notify`: 0).
    Encrypted(usize),
    /// A failure (the rustls error is kept in `error` as well).
    Failed(io::Error),
}

/// How a read's passes ended.
enum Read {
    /// The reader got a chunk.
    Delivered,
    /// The peer's `close_notify` ended the stream.
    Eof,
    /// Nothing more now; `progressed` if bytes arrived.
    Blocked { progressed: bool },
    /// A failure.
    Failed(io::Error),
}

/// Hands a chunk of plaintext to a reader: how many bytes it consumed.
type Deliver<'a> = Option<&'a mut dyn FnMut(&[u8]) -> usize>;

impl ServerSession {
    /// A session for a fresh server connection.
    pub(crate) fn new(conn: UnbufferedServerConnection, options: RecordOptions) -> Self {
        ServerSession {
            engine: Engine::Rustls(conn),
            negotiated: Negotiated::default(),
            options,
            incoming: Vec::new(),
            plain: Vec::new(),
            plain_at: 0,
            out: Vec::new(),
            out_at: 0,
            peer_closed: false,
            sent_close_notify: false,
            error: None,
            handshake_seen: 0,
            sni: None,
        }
    }

    /// Bytes this session holds in its own buffers (received, decrypted, to send), for tests
    /// and measurements of what an idle connection keeps.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.incoming.capacity() + self.plain.capacity() + self.out.capacity()
    }

    /// One pass over `input` (received bytes, the unconsumed ones first): how many bytes
    /// from its front rustls consumed, and how it ended. `deliver` gets the first chunk of
    /// plaintext if `plain` is empty; the rest goes to `plain`.
    fn pass(
        &mut self,
        input: &mut [u8],
        mode: Mode<'_>,
        deliver: &mut Deliver<'_>,
    ) -> (usize, End) {
        let mut at = 0;
        if let Some(e) = &self.error {
            return (0, End::Failed(protocol_error(e.clone())));
        }
        // During a handshake rustls is given one more complete record only when it asks for
        // input, so that it stops right behind the client's Finished when the records are
        // handed over next: a record after it (a key update, data) is then ours, not
        // something rustls processed and kept to itself (it would answer a key update only
        // with its next write, which never comes).
        let slicing = self.options.own_records
            && matches!(&self.engine, Engine::Rustls(conn) if conn.is_handshaking());
        let mut given = Given { complete_end: self.handshake_seen.min(input.len()), more: true };
        loop {
            let left = input.len() - at;
            let conn = match &mut self.engine {
                Engine::Rustls(conn) => conn,
                Engine::Own(_) => return self.pass_own(input, mode, deliver),
                Engine::Gone => return (at, End::Failed(io::Error::other("TLS session lost"))),
            };
            let end_of_slice =
                if slicing { given.extend(input, conn.is_handshaking()) } else { input.len() };
            let next_waiting = slicing && given.has_next(input);
            let status = conn.process_tls_records(&mut input[at..end_of_slice]);
            let discard = status.discard;
            self.handshake_seen = given.complete_end.saturating_sub(at + discard);
            let end = match status.state {
                Err(e) => {
                    at += discard;
                    return (at, self.fail(e, &mut input[at..end_of_slice]));
                }
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    while let Some(record) = traffic.next_record() {
                        match record {
                            Ok(rec) => {
                                take_plaintext(
                                    &mut self.plain,
                                    &mut self.plain_at,
                                    deliver,
                                    rec.payload,
                                );
                            }
                            Err(e) => {
                                at += discard;
                                return (at, self.fail(e, &mut input[at..]));
                            }
                        }
                    }
                    // With the input used up, the next pass could only say "need input"
                    // (rustls has nothing queued: it gives queued records before records it
                    // decrypts), so a read skips it.
                    (matches!(mode, Mode::Input) && discard >= left).then_some(End::NeedInput)
                }
                Ok(ConnectionState::ReadEarlyData(_)) => Some(End::Failed(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "0-RTT early data is not supported by TlsStream",
                ))),
                Ok(ConnectionState::EncodeTlsData(mut enc)) => {
                    reuse_out(&mut self.out);
                    encode_into(&mut self.out, &mut enc, 512)
                        .err()
                        .map(|()| End::Failed(io::Error::other("TLS record encoded twice")))
                }
                // The records are in `out`, which goes out before anything encoded later.
                Ok(ConnectionState::TransmitTlsData(tx)) => {
                    tx.done();
                    None
                }
                Ok(ConnectionState::PeerClosed) | Ok(ConnectionState::Closed)
                    if matches!(mode, Mode::Input) =>
                {
                    self.peer_closed = true;
                    Some(End::Closed)
                }
                Ok(ConnectionState::PeerClosed) => {
                    self.peer_closed = true;
                    None
                }
                Ok(ConnectionState::Closed) => Some(End::Failed(wrote_after_close())),
                Ok(ConnectionState::WriteTraffic(mut traffic)) => Some(write_traffic(
                    &mut self.out,
                    &mut self.sent_close_notify,
                    &mut traffic,
                    &mode,
                )),
                // More input: the next complete record if there is one, else from the socket.
                Ok(ConnectionState::BlockedHandshake)
                    if next_waiting && matches!(mode, Mode::Input) =>
                {
                    given.more = true;
                    None
                }
                Ok(ConnectionState::BlockedHandshake) => match mode {
                    Mode::Input => Some(End::NeedInput),
                    _ => Some(End::Failed(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "the TLS handshake has not completed",
                    ))),
                },
                Ok(_) => Some(End::Failed(io::Error::other("unexpected TLS connection state"))),
            };
            at += discard;
            if let Some(end) = end {
                return (at, end);
            }
        }
    }

    /// [`pass`](Self::pass) on cogen's own records: a read opens every whole record of
    /// `input` in place (and stops at an incomplete one, or at `close_notify`); a write seals
    /// into `out` without looking at the input.
    fn pass_own(
        &mut self,
        input: &mut [u8],
        mode: Mode<'_>,
        deliver: &mut Deliver<'_>,
    ) -> (usize, End) {
        let ServerSession { engine, plain, plain_at, out, peer_closed, sent_close_notify, .. } =
            self;
        let Engine::Own(records) = engine else {
            return (0, End::Failed(io::Error::other("TLS session lost")));
        };
        let (used, failed) = match mode {
            Mode::Encrypt(data) => {
                let data = &data[..data.len().min(MAX_WRITE)];
                reuse_out(out);
                match records.seal(out, data) {
                    Ok(()) => return (0, End::Encrypted(data.len())),
                    Err(e) => (0, e),
                }
            }
            Mode::CloseNotify => {
                reuse_out(out);
                match records.seal_alert(out, rustls::AlertDescription::CloseNotify) {
                    Ok(()) => {
                        *sent_close_notify = true;
                        return (0, End::Encrypted(0));
                    }
                    Err(e) => (0, e),
                }
            }
            Mode::Input => {
                let mut at = 0;
                loop {
                    let len = match Records::record_len(&input[at..]) {
                        Ok(Some(len)) => len,
                        Ok(None) => return (at, End::NeedInput),
                        Err(e) => break (at, e),
                    };
                    let record = &mut input[at..at + len];
                    at += len;
                    match records.open(record) {
                        Ok(Opened::Data(payload)) => {
                            // An empty record is legal padding traffic, not an end of stream.
                            if !payload.is_empty() {
                                take_plaintext(plain, plain_at, deliver, payload);
                            }
                        }
                        Ok(Opened::Nothing) => {}
                        Ok(Opened::CloseNotify) => {
                            *peer_closed = true;
                            return (at, End::Closed);
                        }
                        // After our close_notify nothing more is sent, a key update neither.
                        Ok(Opened::AnswerKeyUpdate) if *sent_close_notify => {}
                        Ok(Opened::AnswerKeyUpdate) => {
                            reuse_out(out);
                            if let Err(e) = records.answer_key_update(out) {
                                break (at, e);
                            }
                        }
                        Err(e) => break (at, e),
                    }
                }
            }
        };
        (used, self.own_fail(failed))
    }

    /// Keeps the first error of cogen's own records and seals the alert it owes the peer
    /// (sent with the next flush).
    fn own_fail(&mut self, e: rustls::Error) -> End {
        if self.error.is_none() {
            if let (Engine::Own(records), Some(alert)) = (&mut self.engine, records::alert_for(&e))
            {
                reuse_out(&mut self.out);
                let _ = records.seal_alert(&mut self.out, alert);
            }
            self.error = Some(e.clone());
        }
        End::Failed(protocol_error(e))
    }

    /// Whether rustls has records queued for the peer (never, on cogen's own records).
    fn rustls_wants_write(&self) -> bool {
        match &self.engine {
            Engine::Rustls(conn) => conn.wants_write(),
            Engine::Own(_) | Engine::Gone => false,
        }
    }

    /// After the handshake: hands a TLS 1.3 session's records over to [`Records`], keeping
    /// what the handshake settled. A session that already failed or ended stays on rustls.
    fn hand_over(&mut self) {
        let Engine::Rustls(conn) = &self.engine else { return };
        if !self.options.own_records
            || self.error.is_some()
            || self.peer_closed
            || self.sent_close_notify
            || !Records::can_take_over(conn)
        {
            return;
        }
        self.negotiated = Negotiated {
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            peer_certificates: conn.peer_certificates().map(<[CertificateDer<'_>]>::to_vec),
            version: conn.protocol_version(),
            suite: conn.negotiated_cipher_suite(),
        };
        if let Engine::Rustls(conn) = std::mem::replace(&mut self.engine, Engine::Gone) {
            match Records::take_over(conn, self.options.refresh_after) {
                Ok(records) => self.engine = Engine::Own(records),
                Err(e) => self.error = Some(e),
            }
        }
    }

    /// rustls's state, while rustls runs the records (`None` once cogen's own do).
    pub(crate) fn common_state(&self) -> Option<&CommonState> {
        match &self.engine {
            Engine::Rustls(conn) => Some(conn),
            Engine::Own(_) | Engine::Gone => None,
        }
    }

    /// The ALPN protocol agreed on.
    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        match self.common_state() {
            Some(common) => common.alpn_protocol(),
            None => self.negotiated.alpn.as_deref(),
        }
    }

    /// The client's certificates, if it presented any.
    pub(crate) fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        match self.common_state() {
            Some(common) => common.peer_certificates(),
            None => self.negotiated.peer_certificates.as_deref(),
        }
    }

    /// The negotiated protocol version.
    pub(crate) fn protocol_version(&self) -> Option<ProtocolVersion> {
        match self.common_state() {
            Some(common) => common.protocol_version(),
            None => self.negotiated.version,
        }
    }

    /// The negotiated cipher suite.
    pub(crate) fn cipher_suite(&self) -> Option<SupportedCipherSuite> {
        match self.common_state() {
            Some(common) => common.negotiated_cipher_suite(),
            None => self.negotiated.suite,
        }
    }

    /// Keeps the first rustls error and encodes the alert rustls queued for the peer (sent
    /// with the next flush).
    fn fail(&mut self, e: rustls::Error, input: &mut [u8]) -> End {
        self.error.get_or_insert_with(|| e.clone());
        let Engine::Rustls(conn) = &mut self.engine else { return End::Failed(protocol_error(e)) };
        // The alert is queued (rustls queues it before failing): encode what is queued,
        // and no more (another pass would run into the failure again). The input must be
        // the same bytes (rustls remembers how far into them it got).
        while conn.wants_write() {
            let status = conn.process_tls_records(input);
            let Ok(ConnectionState::EncodeTlsData(mut enc)) = status.state else { break };
            if encode_into(&mut self.out, &mut enc, 64).is_err() {
                break;
            }
        }
        End::Failed(protocol_error(e))
    }

    /// A pass over the kept input only (no receive).
    fn pass_kept(&mut self, mode: Mode<'_>, deliver: &mut Deliver<'_>) -> End {
        let mut input = std::mem::take(&mut self.incoming);
        let (used, end) = self.pass(&mut input, mode, deliver);
        input.drain(..used.min(input.len()));
        if !input.is_empty() {
            self.incoming = input;
        }
        end
    }

    /// Receives once into the scratch buffer (behind the kept bytes) and runs a pass over
    /// it: `Ok(None)` at the end of the transport, the pass's end otherwise.
    fn receive_and_pass(
        &mut self,
        io: &SockIo<'_>,
        deliver: &mut Deliver<'_>,
    ) -> io::Result<Option<End>> {
        // The thread's buffer is taken out for the pass and put back after it (a nested
        // user, which cannot happen within one step, would get a fresh one).
        let mut scratch = SCRATCH.with(Cell::take);
        let got = self.receive_into(&mut scratch, io, deliver);
        SCRATCH.with(|cell| cell.set(scratch));
        got
    }

    /// [`receive_and_pass`](Self::receive_and_pass) with the scratch buffer in hand.
    fn receive_into(
        &mut self,
        scratch: &mut Vec<u8>,
        io: &SockIo<'_>,
        deliver: &mut Deliver<'_>,
    ) -> io::Result<Option<End>> {
        let kept = self.incoming.len();
        let want = SCRATCH_LEN.max(kept + 4096);
        if scratch.len() < want {
            scratch.resize(want, 0);
        }
        if kept > 0 {
            scratch[..kept].copy_from_slice(&self.incoming);
        }
        let n = io.recv(&mut scratch[kept..])?;
        if n == 0 {
            return Ok(None);
        }
        let (used, end) = self.pass(&mut scratch[..kept + n], Mode::Input, deliver);
        let rest = &scratch[used..kept + n];
        self.incoming = if rest.is_empty() { Vec::new() } else { rest.to_vec() };
        Ok(Some(end))
    }

    /// Reads plaintext: hands the first chunk to `take` (which returns how much it consumed
    /// and its result), from `plain`, else from the kept input, else from what the socket's
    /// next bytes decrypt to. Plaintext is handed over only when the read completes with it,
    /// so a cancelled or timed-out read loses nothing.
    pub(crate) fn with_plaintext<T>(
        &mut self,
        io: &SockIo<'_>,
        take: impl FnOnce(&[u8]) -> (usize, T),
    ) -> Plain<T> {
        if self.plain_at < self.plain.len() {
            let (used, t) = take(&self.plain[self.plain_at..]);
            self.consume_plain(used);
            return Plain::Got(t);
        }
        let mut take = Some(take);
        let mut got = None;
        let read = {
            let mut deliver = |chunk: &[u8]| match take.take() {
                Some(f) => {
                    let (used, t) = f(chunk);
                    got = Some(t);
                    used
                }
                None => 0,
            };
            self.read_records(io, &mut deliver)
        };
        match (read, got) {
            (Read::Delivered, Some(t)) => Plain::Got(t),
            (Read::Delivered, None) => Plain::Failed(io::Error::other("TLS plaintext lost")),
            (Read::Eof, _) => Plain::Eof,
            (Read::Blocked { progressed }, _) => Plain::Blocked { progressed },
            (Read::Failed(e), _) => Plain::Failed(e),
        }
    }

    /// The non-generic part of [`with_plaintext`](Self::with_plaintext): passes over the
    /// kept input, then over each receive, until `deliver` got a chunk or the stream ended.
    fn read_records(&mut self, io: &SockIo<'_>, deliver: &mut dyn FnMut(&[u8]) -> usize) -> Read {
        // A kept error ends every later read at once, before it could wait for bytes.
        if let Some(e) = &self.error {
            return Read::Failed(protocol_error(e.clone()));
        }
        let mut slot: Deliver<'_> = Some(deliver);
        let mut progressed = false;
        let mut end = if self.peer_closed {
            End::Closed
        } else if self.incoming.is_empty() && !self.rustls_wants_write() {
            // Nothing kept and nothing queued: a pass over no input would only ask
            // for more.
            End::NeedInput
        } else {
            self.pass_kept(Mode::Input, &mut slot)
        };
        loop {
            // Records rustls wants sent (an alert, a key update) go when the socket takes
            // them; a full socket leaves them to the next write.
            if self.wants_write() {
                let _ = self.flush(io);
            }
            if slot.is_none() {
                // Delivered; an error after it stays for the next read (rustls's is kept).
                return Read::Delivered;
            }
            match end {
                End::Closed => return Read::Eof,
                End::Failed(e) => return Read::Failed(e),
                End::NeedInput | End::Encrypted(_) => {}
            }
            end = match self.receive_and_pass(io, &mut slot) {
                Ok(Some(end)) => {
                    progressed = true;
                    end
                }
                Ok(None) if self.peer_closed => return Read::Eof,
                Ok(None) => return Read::Failed(truncation_error()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Read::Blocked { progressed };
                }
                Err(e) => return Read::Failed(e),
            };
        }
    }

    fn consume_plain(&mut self, used: usize) {
        self.plain_at += used;
        if self.plain_at >= self.plain.len() {
            self.plain = Vec::new();
            self.plain_at = 0;
        }
    }

    /// Sends what `out` holds, as far as the socket takes it.
    pub(crate) fn flush(&mut self, io: &SockIo<'_>) -> Flush {
        let mut progressed = false;
        while self.out_at < self.out.len() {
            match io.send(&self.out[self.out_at..]) {
                Ok(0) => return Flush::Failed(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_at += n;
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Flush::Blocked { progressed };
                }
                Err(e) => return Flush::Failed(e),
            }
        }
        if self.out.capacity() > 0 {
            recycle_out(std::mem::take(&mut self.out));
            self.out_at = 0;
        }
        Flush::Done { progressed }
    }

    /// Whether records wait to be sent.
    pub(crate) fn wants_write(&self) -> bool {
        self.out_at < self.out.len()
    }

    /// Whether the session holds a send buffer (records to send, or a buffer that
    /// [`flush`](Self::flush) gives back).
    pub(crate) fn holds_out(&self) -> bool {
        self.out.capacity() > 0
    }

    /// Encrypts up to [`MAX_WRITE`] bytes of `data` into `out`: how many it took.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` after `close_notify`; `InvalidData` after a protocol error.
    pub(crate) fn encrypt(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.sent_close_notify {
            return Err(wrote_after_close());
        }
        if data.is_empty() {
            return Ok(0);
        }
        match self.pass_kept(Mode::Encrypt(data), &mut None) {
            End::Encrypted(n) => Ok(n),
            End::Failed(e) => Err(e),
            End::NeedInput | End::Closed => Err(io::Error::other("TLS session cannot send")),
        }
    }

    /// Encodes `close_notify` (once), to go with the next flush.
    pub(crate) fn send_close_notify(&mut self) {
        if !self.sent_close_notify {
            let _ = self.pass_kept(Mode::CloseNotify, &mut None);
            self.sent_close_notify = true;
        }
    }

    /// One pass of the handshake: flush what is queued, then receive and process records,
    /// until the handshake is over and nothing is left to send, or the socket would block.
    pub(crate) fn handshake(&mut self, io: &SockIo<'_>) -> HandshakeStep {
        let mut progressed = false;
        let mut received = false;
        loop {
            let end = if received {
                let r = self.receive_and_pass(io, &mut None);
                // The name the certificate resolver saw in this pass, taken at once so that
                // it never reaches another connection.
                if let Some(name) = super::sni::take_recorded() {
                    self.sni.get_or_insert(name);
                }
                match r {
                    Ok(Some(end)) => {
                        progressed = true;
                        Some(end)
                    }
                    Ok(None) => {
                        return HandshakeStep::Failed(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the peer closed the connection during the TLS handshake",
                        ));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return HandshakeStep::Blocked { read: true, progressed };
                    }
                    Err(e) => return HandshakeStep::Failed(e),
                }
            } else {
                None
            };
            match self.flush(io) {
                Flush::Done { progressed: p } => progressed |= p,
                Flush::Blocked { progressed: p } => {
                    return HandshakeStep::Blocked { read: false, progressed: progressed || p };
                }
                Flush::Failed(e) => return HandshakeStep::Failed(e),
            }
            let handshaking = match &self.engine {
                Engine::Rustls(conn) => conn.is_handshaking(),
                Engine::Own(_) | Engine::Gone => false,
            };
            match end {
                Some(End::Failed(e)) => return HandshakeStep::Failed(e),
                // A close_notify right behind the client's Finished (and its data) ends the
                // stream, not the handshake: the reads give the data, then the end.
                Some(End::Closed) if handshaking => {
                    return HandshakeStep::Failed(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection during the TLS handshake",
                    ));
                }
                _ => {}
            }
            if !handshaking {
                self.hand_over();
                return HandshakeStep::Done;
            }
            received = true;
        }
    }
}

/// What one pass of a server handshake gave.
pub(crate) enum HandshakeStep {
    /// The handshake is over and its last records are sent.
    Done,
    /// The socket would block: for reading (`read`) or writing.
    Blocked { read: bool, progressed: bool },
    /// The handshake failed.
    Failed(io::Error),
}

/// Hands `payload` to the reader if it waits and nothing is buffered before it; keeps the
/// rest in `plain`.
fn take_plaintext(
    plain: &mut Vec<u8>,
    plain_at: &mut usize,
    deliver: &mut Deliver<'_>,
    payload: &[u8],
) {
    let mut used = 0;
    if *plain_at == plain.len()
        && let Some(f) = deliver.take()
    {
        used = f(payload).min(payload.len());
    }
    if used < payload.len() {
        if *plain_at == plain.len() {
            plain.clear();
            *plain_at = 0;
        }
        plain.extend_from_slice(&payload[used..]);
    }
}

/// Appends to `buf` what `write` writes into a zeroed tail of `estimate` bytes, growing the
/// tail to the size `write` asks for (`Err(Some(n))`) and retrying once; `Err(())` when it
/// fails otherwise.
fn grow_and(
    buf: &mut Vec<u8>,
    estimate: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Option<usize>>,
) -> Result<usize, ()> {
    let start = buf.len();
    let mut size = estimate;
    for _ in 0..2 {
        buf.resize(start + size, 0);
        match write(&mut buf[start..]) {
            Ok(n) => {
                buf.truncate(start + n);
                return Ok(n);
            }
            Err(Some(required)) if required > size => size = required,
            Err(_) => break,
        }
    }
    buf.truncate(start);
    Err(())
}

/// Encodes a handshake record (or alert) at the end of `out`.
fn encode_into(
    out: &mut Vec<u8>,
    enc: &mut EncodeTlsData<'_, ServerConnectionData>,
    estimate: usize,
) -> Result<usize, ()> {
    grow_and(out, estimate, |buf| match enc.encode(buf) {
        Ok(n) => Ok(n),
        Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
            Err(Some(required_size))
        }
        Err(EncodeError::AlreadyEncoded) => Err(None),
    })
}

/// Where a pass ends once rustls lets it write: a read needs input; a write encrypts (up
/// to [`MAX_WRITE`] bytes) at the end of `out`; a shutdown encodes `close_notify` there.
fn write_traffic(
    out: &mut Vec<u8>,
    sent_close_notify: &mut bool,
    traffic: &mut WriteTraffic<'_, ServerConnectionData>,
    mode: &Mode<'_>,
) -> End {
    match mode {
        Mode::Input => End::NeedInput,
        Mode::Encrypt(data) => {
            let data = &data[..data.len().min(MAX_WRITE)];
            let estimate = data.len() + RECORD_OVERHEAD * (data.len() / 16384 + 1);
            reuse_out(out);
            match grow_and(out, estimate, |buf| traffic.encrypt(data, buf).map_err(encrypt_needs)) {
                Ok(_) => End::Encrypted(data.len()),
                Err(()) => End::Failed(io::Error::other(
                    "TLS traffic keys exhausted: the connection must close",
                )),
            }
        }
        Mode::CloseNotify => {
            match grow_and(out, 64, |buf| traffic.queue_close_notify(buf).map_err(encrypt_needs)) {
                Ok(_) => {
                    *sent_close_notify = true;
                    End::Encrypted(0)
                }
                Err(()) => End::Failed(io::Error::other("close_notify not encoded")),
            }
        }
    }
}

/// Gives an unallocated send buffer the thread's spare one.
fn reuse_out(out: &mut Vec<u8>) {
    if out.capacity() == 0 {
        *out = SPARE_OUT.with(Cell::take);
        out.clear();
    }
}

/// Keeps a sent buffer as the thread's spare (unless it is too large to keep).
fn recycle_out(mut out: Vec<u8>) {
    if out.capacity() <= SPARE_OUT_MAX {
        out.clear();
        drop(SPARE_OUT.with(|spare| spare.replace(out)));
    }
}

/// The size an encrypt call asked for, if that is why it failed.
fn encrypt_needs(e: EncryptError) -> Option<usize> {
    match e {
        EncryptError::InsufficientSize(s) => Some(s.required_size),
        _ => None,
    }
}

fn protocol_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn wrote_after_close() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the TLS stream's write side was shut down")
}
