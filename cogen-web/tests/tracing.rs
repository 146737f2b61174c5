//! The `tracing` feature (on in tests through the crate's dev-dependency on itself): a
//! `connection` span and a `request` span per request, a `request refused` event for a
//! protocol error and a `handler failed` event for a handler's error, seen by a recording
//! subscriber over raw sockets.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use cogen::prelude::*;
use cogen_web::http::StatusCode;
use cogen_web::{Error, Request, ResponseWriter, Server, ShutdownHandle};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata};

mod util;
use util::exchange;

/// Records span names, and each event's message with the spans it happened in.
#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    names: Mutex<Vec<&'static str>>,
    stack: Mutex<Vec<u64>>,
    log: Arc<Mutex<Vec<String>>>,
}

/// Collects an event's fields as `name=value` text.
struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut names) = self.names.lock() {
            names.push(span.metadata().name());
        }
        if let Ok(mut log) = self.log.lock() {
            let mut f = Fields(String::new());
            span.record(&mut f);
            log.push(format!("span {}{}", span.metadata().name(), f.0));
        }
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields(String::new());
        event.record(&mut f);
        let inside: Vec<&str> = match (self.stack.lock(), self.names.lock()) {
            (Ok(stack), Ok(names)) => stack.iter().map(|&i| names[i as usize - 1]).collect(),
            _ => Vec::new(),
        };
        if let Ok(mut log) = self.log.lock() {
            log.push(format!("event in {inside:?}{}", f.0));
        }
    }
    fn enter(&self, id: &Id) {
        if let Ok(mut s) = self.stack.lock() {
            s.push(id.into_u64());
        }
    }
    fn exit(&self, _: &Id) {
        if let Ok(mut s) = self.stack.lock() {
            s.pop();
        }
    }
}

#[coro]
fn app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if req.path() == "/fail" {
        return Err(Error::Handler("boom".into()));
    }
    yield_!(res.text(StatusCode::OK, "ok"))
}

#[test]
fn spans_per_connection_and_request_and_events_for_refusals_and_errors() -> io::Result<()> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder { log: Arc::clone(&log), ..Recorder::default() };
    let (tx, rx) = mpsc::channel();
    let stop = ShutdownHandle::new();
    let server_stop = stop.clone();
    let t = std::thread::spawn(move || {
        let _guard = tracing::subscriber::set_default(recorder);
        let Ok(server) = Server::bind(([127, 0, 0, 1], 0).into(), app) else { return };
        let server = server.with_shutdown(server_stop);
        if let Ok(addr) = server.local_addr() {
            let _ = tx.send(addr);
        }
        let Ok(mut sched) = Scheduler::builder().panic_hook(|_| {}).build() else { return };
        sched.add(server.serve());
        let _ = sched.run();
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).map_err(io::Error::other)?;
    let ok = exchange(addr, "GET /hi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    assert!(ok.ends_with("ok"), "{ok}");
    let failed = exchange(addr, "GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    assert!(failed.starts_with("HTTP/1.1 500"), "{failed}");
    let refused = exchange(addr, "GET / HTTP/2.0\r\nHost: x\r\n\r\n")?;
    assert!(refused.starts_with("HTTP/1.1 505"), "{refused}");
    stop.shutdown(Duration::from_secs(1));
    t.join().map_err(|_| io::Error::other("server thread panicked"))?;

    let log = log.lock().map_err(|_| io::Error::other("poisoned"))?.clone();
    let count = |prefix: &str| log.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("span connection peer="), 3, "{log:#?}");
    assert_eq!(count("span request method=GET uri=/hi"), 1, "{log:#?}");
    assert_eq!(count("span request method=GET uri=/fail"), 1, "{log:#?}");
    let failed = log.iter().find(|l| l.contains("handler failed")).cloned().unwrap_or_default();
    assert!(failed.contains("status=500") && failed.contains("error=boom"), "{log:#?}");
    assert!(failed.starts_with("event in [\"connection\""), "inside its connection: {log:#?}");
    let refused = log.iter().find(|l| l.contains("request refused")).cloned().unwrap_or_default();
    assert!(refused.contains("status=505"), "{log:#?}");
    assert!(refused.starts_with("event in [\"connection\"]"), "{log:#?}");
    Ok(())
}
