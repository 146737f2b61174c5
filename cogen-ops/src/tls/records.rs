//! A server's TLS 1.3 application records after the handshake, protected by cogen itself
//! with ring's AEAD, as kernel TLS would: rustls runs the handshake, then hands over the
//! traffic secrets and a [`KernelConnection`] that derives the next keys on a key update.
//!
//! Why: per keep-alive request, rustls's record layer (deframing, the plaintext `Vec` it
//! copies each record into, the message encrypter's own buffer) cost about 2,000
//! instructions beyond the AEAD itself (see `docs/benchmarks.md`, HTTPS). Here a record is
//! decrypted in place in the receive buffer and handed to the reader from there, and a
//! write is sealed in place in the send buffer.
//!
//! What it does, after RFC 8446 §5 and §4.6.3:
//! - outer records must be `application_data` with at most 2^14 + 256 bytes of ciphertext;
//! - the nonce is the key's IV XOR the record's sequence number; the AAD is the header;
//! - the inner plaintext's padding (trailing zeros) is stripped and its last byte is the
//!   real content type: application data (empty records are skipped), alerts
//!   (`close_notify` ends the stream, `user_canceled` is ignored, any other is fatal), and
//!   handshake messages, of which a server takes only `KeyUpdate` (reassembled if split);
//! - a `KeyUpdate` switches the receive key; one that asks for it is answered by a
//!   `KeyUpdate` of ours, after which our own key switches;
//! - our key is also refreshed before its suite's confidentiality limit (2^24 records for
//!   AES-GCM), and a sequence number never wraps;
//! - a failure queues the matching fatal alert (`bad_record_mac`, `record_overflow`,
//!   `unexpected_message`, `decode_error`) and is kept, as rustls keeps its errors.
//!
//! Only TLS 1.3 with the three suites rustls offers is handed over; a TLS 1.2 session stays
//! on rustls's own record layer (see [`Records::take_over`]).

use ring::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::kernel::KernelConnection;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::{
    AlertDescription, CipherSuite, ConnectionTrafficSecrets, ContentType, Error, InvalidMessage,
    PeerMisbehaved, ProtocolVersion, SupportedCipherSuite,
};

/// A record's header: content type, legacy version, length.
pub(crate) const HEADER_LEN: usize = 5;
/// The AEAD tag of every suite handed over.
const TAG_LEN: usize = 16;
/// The most plaintext one record carries.
pub(crate) const MAX_PLAINTEXT: usize = 1 << 14;
/// The most ciphertext a TLS 1.3 record may carry (RFC 8446 §5.2).
const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;

const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;
const HANDSHAKE_KEY_UPDATE: u8 = 24;
/// `close_notify`'s and `user_canceled`'s codes.
const ALERT_CLOSE_NOTIFY: u8 = 0;
const ALERT_USER_CANCELED: u8 = 90;
/// The largest post-handshake message reassembled; a server expects only 5-byte
/// `KeyUpdate`s, so anything long is refused rather than buffered.
const MAX_HANDSHAKE_MESSAGE: usize = 1024;

/// One direction's key and where its sequence stands.
struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl Keys {
    fn new(secrets: ConnectionTrafficSecrets, seq: u64) -> Result<Self, Error> {
        let (algorithm, key, iv) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => return Err(Error::General("unsupported TLS traffic secret".into())),
        };
        let key = UnboundKey::new(algorithm, key.as_ref())
            .map_err(|_| Error::General("bad TLS traffic key".into()))?;
        let iv = iv.as_ref().try_into().map_err(|_| Error::General("bad TLS IV".into()))?;
        Ok(Keys { key: LessSafeKey::new(key), iv, seq })
    }

    /// The next record's nonce (RFC 8446 §5.3), and the sequence number moved on; `None`
    /// once the sequence is used up (it never wraps).
    fn next_nonce(&mut self) -> Option<Nonce> {
        let seq = self.seq;
        self.seq = seq.checked_add(1)?;
        let mut nonce = self.iv;
        for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        Some(Nonce::assume_unique_for_key(nonce))
    }
}

/// What one received record held.
pub(crate) enum Opened<'a> {
    /// Application data (possibly empty).
    Data(&'a [u8]),
    /// The peer's `close_notify`.
    CloseNotify,
    /// Nothing for the reader (a key update, an ignored alert, a message fragment).
    Nothing,
    /// A key update that asks for ours: call [`Records::answer_key_update`].
    AnswerKeyUpdate,
}

/// The application records of a TLS 1.3 server session, after the handshake.
pub(crate) struct Records {
    kernel: KernelConnection<ServerConnectionData>,
    tx: Keys,
    rx: Keys,
    /// Records sent under one key before it is refreshed.
    refresh_after: u64,
    /// A post-handshake message split over records, being put together.
    partial_handshake: Vec<u8>,
}

impl Records {
    /// Whether a session with this version and suite can be handed over.
    pub(crate) fn can_take_over(conn: &UnbufferedServerConnection) -> bool {
        let suite = match conn.negotiated_cipher_suite() {
            Some(SupportedCipherSuite::Tls13(suite)) => suite.common.suite,
            _ => return false,
        };
        conn.protocol_version() == Some(ProtocolVersion::TLSv1_3)
            && matches!(
                suite,
                CipherSuite::TLS13_AES_128_GCM_SHA256
                    | CipherSuite::TLS13_AES_256_GCM_SHA384
                    | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            )
    }

    /// Takes over a session whose handshake is done and whose records are all sent
    /// ([`can_take_over`](Self::can_take_over) must hold). `refresh_after`: records per
    /// key before ours is refreshed (at most the suite's confidentiality limit).
    pub(crate) fn take_over(
        conn: UnbufferedServerConnection,
        refresh_after: Option<u64>,
    ) -> Result<Self, Error> {
        let limit = match conn.negotiated_cipher_suite() {
            Some(SupportedCipherSuite::Tls13(suite)) => suite.common.confidentiality_limit,
            _ => return Err(Error::General("not a TLS 1.3 session".into())),
        };
        let (secrets, kernel) = conn.dangerous_into_kernel_connection()?;
        Ok(Records {
            kernel,
            tx: Keys::new(secrets.tx.1, secrets.tx.0)?,
            rx: Keys::new(secrets.rx.1, secrets.rx.0)?,
            refresh_after: refresh_after.map_or(limit, |n| n.clamp(1, limit)),
            partial_handshake: Vec::new(),
        })
    }

    /// The length of the complete record at the start of `input`, header included:
    /// `Ok(None)` while it is incomplete.
    ///
    /// # Errors
    ///
    /// A record that is not `application_data` or longer than TLS 1.3 allows.
    pub(crate) fn record_len(input: &[u8]) -> Result<Option<usize>, Error> {
        let Some(header) = input.get(..HEADER_LEN) else { return Ok(None) };
        if header[0] != CONTENT_APPLICATION_DATA {
            return Err(Error::InappropriateMessage {
                expect_types: vec![ContentType::ApplicationData],
                got_type: ContentType::from(header[0]),
            });
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len > MAX_CIPHERTEXT {
            return Err(Error::PeerSentOversizedRecord);
        }
        if len < TAG_LEN + 1 {
            return Err(Error::DecryptError);
        }
        Ok((input.len() >= HEADER_LEN + len).then_some(HEADER_LEN + len))
    }

    /// Decrypts one whole record (`record_len` bytes) in place.
    ///
    /// # Errors
    ///
    /// A record that does not decrypt, an empty or oversized inner plaintext, a fatal alert
    /// from the peer, a handshake message other than `KeyUpdate`, a bad `KeyUpdate`.
    pub(crate) fn open<'a>(&mut self, record: &'a mut [u8]) -> Result<Opened<'a>, Error> {
        let (header, body) = record.split_at_mut(HEADER_LEN);
        let nonce = self.rx.next_nonce().ok_or(Error::DecryptError)?;
        let header: [u8; HEADER_LEN] = [header[0], header[1], header[2], header[3], header[4]];
        let plain = self
            .rx
            .key
            .open_in_place(nonce, Aad::from(header), body)
            .map_err(|_| Error::DecryptError)?;
        // The inner plaintext, padding included, holds at most 2^14 + 1 bytes (RFC 8446 §5.4).
        if plain.len() > MAX_PLAINTEXT + 1 {
            return Err(Error::PeerSentOversizedRecord);
        }
        let Some(type_at) = plain.iter().rposition(|&b| b != 0) else {
            return Err(Error::PeerMisbehaved(PeerMisbehaved::IllegalTlsInnerPlaintext));
        };
        let content = &plain[..type_at];
        // A handshake message split over records must not be interleaved with other
        // records (RFC 8446 §5.1).
        if !self.partial_handshake.is_empty() && plain[type_at] != CONTENT_HANDSHAKE {
            return Err(Error::PeerMisbehaved(PeerMisbehaved::KeyEpochWithPendingFragment));
        }
        match plain[type_at] {
            CONTENT_APPLICATION_DATA => Ok(Opened::Data(content)),
            CONTENT_ALERT => match content {
                [_, ALERT_CLOSE_NOTIFY] => Ok(Opened::CloseNotify),
                [_, ALERT_USER_CANCELED] => Ok(Opened::Nothing),
                [_, code] => Err(Error::AlertReceived(AlertDescription::from(*code))),
                _ => Err(Error::InvalidMessage(InvalidMessage::MessageTooShort)),
            },
            CONTENT_HANDSHAKE if !content.is_empty() => self.handshake_bytes(content),
            other => Err(Error::InappropriateMessage {
                expect_types: vec![ContentType::ApplicationData, ContentType::Alert],
                got_type: ContentType::from(other),
            }),
        }
    }

    /// Takes post-handshake message bytes; a complete `KeyUpdate` switches the receive key.
    fn handshake_bytes(&mut self, bytes: &[u8]) -> Result<Opened<'static>, Error> {
        let whole = if self.partial_handshake.is_empty() {
            bytes
        } else {
            self.partial_handshake.extend_from_slice(bytes);
            &self.partial_handshake[..]
        };
        let Some(len) =
            whole.get(1..4).map(|l| usize::from_be_bytes([0, 0, 0, 0, 0, l[0], l[1], l[2]]))
        else {
            return self.keep_fragment(bytes);
        };
        if whole[0] != HANDSHAKE_KEY_UPDATE {
            return Err(Error::InappropriateHandshakeMessage {
                expect_types: vec![rustls::HandshakeType::KeyUpdate],
                got_type: rustls::HandshakeType::from(whole[0]),
            });
        }
        if len != 1 {
            return Err(Error::InvalidMessage(InvalidMessage::InvalidKeyUpdate));
        }
        match whole.len() {
            n if n < 5 => return self.keep_fragment(bytes),
            // A key update must end its record (RFC 8446 §5.1): the next bytes are under
            // the new key.
            5 => {}
            _ => return Err(Error::PeerMisbehaved(PeerMisbehaved::KeyEpochWithPendingFragment)),
        }
        let requested = match whole[4] {
            0 => false,
            1 => true,
            _ => return Err(Error::InvalidMessage(InvalidMessage::InvalidKeyUpdate)),
        };
        self.partial_handshake = Vec::new();
        let (seq, secrets) = self.kernel.update_rx_secret()?;
        self.rx = Keys::new(secrets, seq)?;
        Ok(if requested { Opened::AnswerKeyUpdate } else { Opened::Nothing })
    }

    /// Keeps the start of a split handshake message.
    fn keep_fragment(&mut self, bytes: &[u8]) -> Result<Opened<'static>, Error> {
        if self.partial_handshake.is_empty() {
            self.partial_handshake.extend_from_slice(bytes);
        }
        if self.partial_handshake.len() > MAX_HANDSHAKE_MESSAGE {
            return Err(Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge));
        }
        Ok(Opened::Nothing)
    }

    /// Seals `data` as application records (at most [`MAX_PLAINTEXT`] bytes each) at the end
    /// of `out`, refreshing our key first when it is due.
    ///
    /// # Errors
    ///
    /// `EncryptError` if the sequence is used up.
    pub(crate) fn seal(&mut self, out: &mut Vec<u8>, data: &[u8]) -> Result<(), Error> {
        out.reserve(data.len() + (data.len() / MAX_PLAINTEXT + 1) * (HEADER_LEN + 1 + TAG_LEN));
        for chunk in data.chunks(MAX_PLAINTEXT) {
            if self.tx.seq >= self.refresh_after {
                self.send_key_update(out, false)?;
            }
            self.seal_record(out, CONTENT_APPLICATION_DATA, chunk)?;
        }
        Ok(())
    }

    /// Answers a peer's key update that asked for ours.
    ///
    /// # Errors
    ///
    /// As [`seal`](Self::seal).
    pub(crate) fn answer_key_update(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.send_key_update(out, false)
    }

    /// Seals an alert: `close_notify`, or a fatal one.
    ///
    /// # Errors
    ///
    /// As [`seal`](Self::seal).
    pub(crate) fn seal_alert(
        &mut self,
        out: &mut Vec<u8>,
        alert: AlertDescription,
    ) -> Result<(), Error> {
        // RFC 8446 §6: `close_notify` is a warning (1), every other alert here fatal (2).
        let level = if alert == AlertDescription::CloseNotify { 1 } else { 2 };
        self.seal_record(out, CONTENT_ALERT, &[level, u8::from(alert)])
    }

    /// Sends a `KeyUpdate` under the current key, then switches to the next one.
    fn send_key_update(&mut self, out: &mut Vec<u8>, request: bool) -> Result<(), Error> {
        let message = [HANDSHAKE_KEY_UPDATE, 0, 0, 1, u8::from(request)];
        self.seal_record(out, CONTENT_HANDSHAKE, &message)?;
        let (seq, secrets) = self.kernel.update_tx_secret()?;
        self.tx = Keys::new(secrets, seq)?;
        Ok(())
    }

    /// Seals one record of `content_type` at the end of `out`.
    fn seal_record(
        &mut self,
        out: &mut Vec<u8>,
        content_type: u8,
        data: &[u8],
    ) -> Result<(), Error> {
        let nonce = self.tx.next_nonce().ok_or(Error::EncryptError)?;
        let len = data.len() + 1 + TAG_LEN;
        let [len_hi, len_lo] = u16::try_from(len).map_err(|_| Error::EncryptError)?.to_be_bytes();
        let header = [CONTENT_APPLICATION_DATA, 3, 3, len_hi, len_lo];
        let start = out.len();
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.push(content_type);
        let sealed = self.tx.key.seal_in_place_separate_tag(
            nonce,
            Aad::from(header),
            &mut out[start + HEADER_LEN..],
        );
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(tag.as_ref());
                Ok(())
            }
            Err(_) => {
                out.truncate(start);
                Err(Error::EncryptError)
            }
        }
    }
}

/// The fatal alert that tells the peer why `error` ended the session, if one is owed (none
/// for an alert the peer sent).
pub(crate) fn alert_for(error: &Error) -> Option<AlertDescription> {
    Some(match error {
        Error::AlertReceived(_) => return None,
        Error::DecryptError => AlertDescription::BadRecordMac,
        Error::PeerSentOversizedRecord => AlertDescription::RecordOverflow,
        Error::InappropriateMessage { .. } | Error::InappropriateHandshakeMessage { .. } => {
            AlertDescription::UnexpectedMessage
        }
        Error::PeerMisbehaved(_) => AlertDescription::UnexpectedMessage,
        Error::InvalidMessage(_) => AlertDescription::DecodeError,
        _ => AlertDescription::InternalError,
    })
}
