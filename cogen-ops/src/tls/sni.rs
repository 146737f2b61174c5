//! The SNI name of a server session: rustls's unbuffered server connection does not expose
//! it, so the acceptor's configuration gets a certificate resolver that records the name it
//! is asked for, in a per-thread slot the session takes right after the pass that asked.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

thread_local! {
    /// The name the resolver was last asked for on this thread, not yet taken.
    static RECORDED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Takes the name recorded during the last pass on this thread, if any.
pub(crate) fn take_recorded() -> Option<String> {
    RECORDED.with(|slot| slot.borrow_mut().take())
}

/// Wraps a configuration's certificate resolver so that it records the SNI name.
pub(crate) fn recording(config: &Arc<ServerConfig>) -> Arc<ServerConfig> {
    let mut config = ServerConfig::clone(config);
    config.cert_resolver = Arc::new(Recording { inner: config.cert_resolver.clone() });
    // The hand-over of TLS 1.3 records to cogen's own (`records`) takes the traffic
    // secrets out of rustls.
    config.enable_secret_extraction = true;
    Arc::new(config)
}

/// A certificate resolver that records the client's SNI name, then asks the real one.
struct Recording {
    inner: Arc<dyn ResolvesServerCert>,
}

impl ResolvesServerCert for Recording {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = client_hello.server_name().map(str::to_owned);
        RECORDED.with(|slot| *slot.borrow_mut() = name);
        self.inner.resolve(client_hello)
    }

    fn only_raw_public_keys(&self) -> bool {
        self.inner.only_raw_public_keys()
    }
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording").field("inner", &self.inner).finish()
    }
}
