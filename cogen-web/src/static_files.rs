//! Static files: a handler that serves a directory with `sendfile`, validators (`ETag`,
//! `Last-Modified`) and conditional requests (`304`, `412`, `If-Range`; dates in all three
//! HTTP forms), single byte ranges (`206`, `416`), MIME types from `mime_guess`, `HEAD`, an
//! optional directory index, and no way out of the root (`..`, encoded `%2e%2e`, symlinks
//! that leave it: all 404).

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cogen::{Coroutine, IntoYield};
use http::header::{
    IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, RANGE,
};
use http::{Method, StatusCode};

use crate::date::{imf_fixdate, parse_http_date};
use crate::error::Error;
use crate::handler::{BoxFuture, Handler};
use crate::request::Request;
use crate::response::ResponseWriter;

/// Serves the files under a root directory.
///
/// # Examples
///
/// ```no_run
/// use cogen_web::{Server, StaticFiles};
/// let files = StaticFiles::new("./public")?.index("index.html");
/// let server = Server::bind("127.0.0.1:8080".parse().map_err(std::io::Error::other)?, files)?;
/// # drop(server);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct StaticFiles {
    root: PathBuf,
    index: Option<String>,
    prefix: String,
}

impl StaticFiles {
    /// Serves `root` (which must exist); URL paths map to files under it.
    ///
    /// # Errors
    ///
    /// The error of resolving `root` (`NotFound`, ...).
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(StaticFiles { root: root.as_ref().canonicalize()?, index: None, prefix: String::new() })
    }

    /// Serves `name` (say `index.html`) for a request naming a directory.
    pub fn index(mut self, name: &str) -> Self {
        self.index = Some(name.to_owned());
        self
    }

    /// Strips `prefix` from request paths first (when mounted under a router prefix).
    pub fn strip_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// The file a request path names, if it is inside the root.
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let path = path.strip_prefix(self.prefix.as_str()).unwrap_or(path);
        let decoded = percent_decode(path)?;
        let mut full = self.root.clone();
        for comp in Path::new(&decoded).components() {
            match comp {
                Component::Normal(seg) => full.push(seg),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return None,
            }
        }
        // Symlinks are followed, but must land inside the root.
        let mut real = full.canonicalize().ok()?;
        if !real.starts_with(&self.root) {
            return None;
        }
        if real.is_dir() {
            real = real.join(self.index.as_deref()?).canonicalize().ok()?;
            if !real.starts_with(&self.root) || !real.is_file() {
                return None;
            }
        }
        real.is_file().then_some(real)
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape, a NUL byte or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// A single `bytes=` range against a file of `len` bytes: `Ok(None)` to serve it whole
/// (no range, or several ranges, which we may ignore), `Err(())` if unsatisfiable.
fn parse_range(header: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n: u64 = b.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.checked_sub(1).ok_or(())?)
        }
        (false, true) => (a.parse().map_err(|_| ())?, len.checked_sub(1).ok_or(())?),
        (false, false) => {
            let (s, e): (u64, u64) = (a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?);
            (s, e.min(len.saturating_sub(1)))
        }
        (true, true) => return Err(()),
    };
    if start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// The validators of the file about to be served, and the current time (all in seconds
/// since the epoch).
struct Validators<'a> {
    /// The strong entity tag, quoted.
    etag: &'a str,
    /// `Last-Modified`, in whole seconds.
    mtime: u64,
    now: u64,
}

/// The entity tags of an `If-Match` / `If-None-Match` value, `*` included; each as
/// `(weak, opaque tag with its quotes)`.
fn entity_tags(list: &str) -> impl Iterator<Item = (bool, &str)> {
    list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(|t| match t.strip_prefix("W/") {
        Some(tag) => (true, tag),
        None => (false, t),
    })
}

/// What `If-Match` and `If-Unmodified-Since` decide (RFC 9110 §13.2.2, steps 1 and 2).
#[derive(Debug, PartialEq, Eq)]
enum Precondition {
    Proceed,
    /// 412: the client's copy is not the current one.
    Failed,
}

/// `If-Match` (strong comparison; `*` matches, the file exists) or, without it,
/// `If-Unmodified-Since` (a date in any of the three forms; an invalid one is ignored).
fn preconditions(
    current: &Validators<'_>,
    if_match: Option<&str>,
    if_unmodified_since: Option<&str>,
) -> Precondition {
    let holds = match (if_match, if_unmodified_since) {
        (Some(tags), _) => {
            entity_tags(tags).any(|(weak, t)| t == "*" || (!weak && t == current.etag))
        }
        (None, Some(date)) => parse_http_date(date).is_none_or(|since| current.mtime <= since),
        (None, None) => true,
    };
    if holds { Precondition::Proceed } else { Precondition::Failed }
}

/// `If-None-Match` (weak comparison) or, without it, `If-Modified-Since` (any of the three
/// date forms; an invalid date is ignored): true to answer 304 (RFC 9110 §13.2.2, steps 3
/// and 4; the handler serves only GET and HEAD).
fn not_modified(
    current: &Validators<'_>,
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
) -> bool {
    match (if_none_match, if_modified_since) {
        (Some(tags), _) => entity_tags(tags).any(|(_, t)| t == "*" || t == current.etag),
        (None, Some(date)) => parse_http_date(date).is_some_and(|since| current.mtime <= since),
        (None, None) => false,
    }
}

/// Whether an `If-Range` value names the current representation (RFC 9110 §13.1.5): an
/// entity tag by strong comparison (a weak tag never matches), or a date that is exactly
/// `Last-Modified`, which counts only as a strong validator, one second or more before now
/// (§8.8.2.2). Anything else does not match, so the range is ignored.
fn if_range_matches(current: &Validators<'_>, value: &str) -> bool {
    let value = value.trim();
    if value.starts_with('"') {
        return value == current.etag;
    }
    if value.starts_with("W/") {
        return false;
    }
    parse_http_date(value).is_some_and(|date| date == current.mtime && current.mtime < current.now)
}

#[cogen::coroutine]
fn serve(files: StaticFiles, req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let r = http::Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header("allow", "GET, HEAD")
            .body(&b""[..])
            .map_err(|e| Error::Handler(e.to_string()))?;
        return yield_!(res.send(r));
    }
    let Some(path) = files.resolve(req.path()) else {
        let r = http::Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "text/plain")
            .body(&b"404 Not Found\n"[..])
            .map_err(|e| Error::Handler(e.to_string()))?;
        return yield_!(res.send(r));
    };
    let file = File::open(&path)?;
    let meta = file.metadata()?;
    let len = meta.len();
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    let mtime_secs = mtime.map_or(0, |d| d.as_secs());
    let etag = format!("\"{:x}-{:x}\"", len, mtime.map_or(0, |d| d.as_nanos()));
    let last_modified = imf_fixdate(mtime_secs);
    let headers = req.headers();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let current = Validators { etag: &etag, mtime: mtime_secs, now };
    let value = |name| headers.get(name).and_then(|v: &http::HeaderValue| v.to_str().ok());
    match preconditions(&current, value(IF_MATCH), value(IF_UNMODIFIED_SINCE)) {
        Precondition::Failed => {
            let r = http::Response::builder()
                .status(StatusCode::PRECONDITION_FAILED)
                .header("etag", &etag)
                .body(&b""[..])
                .map_err(|e| Error::Handler(e.to_string()))?;
            return yield_!(res.send(r));
        }
        Precondition::Proceed => {}
    }
    if not_modified(&current, value(IF_NONE_MATCH), value(IF_MODIFIED_SINCE)) {
        let r = http::Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header("etag", &etag)
            .header("last-modified", &last_modified)
            .body(&b""[..])
            .map_err(|e| Error::Handler(e.to_string()))?;
        return yield_!(res.send(r));
    }
    let mime = mime_guess::from_path(&path).first_or_octet_stream().to_string();
    // A Range is honoured only if If-Range, when present, names this very representation
    // (RFC 9110 §13.1.5): otherwise the whole file goes out, as for a changed file.
    let range = value(RANGE)
        .filter(|_| value(IF_RANGE).is_none_or(|v| if_range_matches(&current, v)))
        .map(|r| parse_range(r, len));
    let common = [
        ("content-type", mime),
        ("etag", etag),
        ("last-modified", last_modified),
        ("accept-ranges", "bytes".to_string()),
    ];
    match range {
        Some(Err(())) => {
            let r = http::Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header("content-range", format!("bytes */{len}"))
                .body(&b""[..])
                .map_err(|e| Error::Handler(e.to_string()))?;
            yield_!(res.send(r))
        }
        Some(Ok(Some((start, end)))) => {
            let mut hs = common.to_vec();
            hs.push(("content-range", format!("bytes {start}-{end}/{len}")));
            yield_!(res.send_file(StatusCode::PARTIAL_CONTENT, hs, &file, start, end - start + 1))
        }
        _ => yield_!(res.send_file(StatusCode::OK, common, &file, 0, len)),
    }
}

impl Handler for StaticFiles {
    type Future = BoxFuture;
    fn call(&self, req: Request, res: ResponseWriter) -> Coroutine<BoxFuture> {
        let co = serve(self.clone(), req, res);
        Coroutine::new("static_files", Box::pin(co.into_yield()) as BoxFuture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=5-1", 100), Err(()));
        assert_eq!(parse_range("bytes=-0", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn conditional_headers() {
        let v = Validators { etag: "\"a-1\"", mtime: 784_111_777, now: 784_111_800 };
        let rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
        let asctime = "Sun Nov  6 08:49:37 1994";
        let earlier = "Sun, 06 Nov 1994 08:49:36 GMT";
        assert!(if_range_matches(&v, "\"a-1\""));
        assert!(!if_range_matches(&v, "W/\"a-1\""), "a weak tag never matches");
        assert!(!if_range_matches(&v, "\"b-2\""));
        assert!(if_range_matches(&v, "Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(if_range_matches(&v, rfc850) && if_range_matches(&v, asctime));
        assert!(!if_range_matches(&v, earlier));
        assert!(!if_range_matches(&v, "garbage"));
        let fresh = Validators { now: v.mtime, ..v };
        assert!(!if_range_matches(&fresh, rfc850), "a date as new as now is weak");
        for date in [rfc850, asctime] {
            assert!(not_modified(&v, None, Some(date)));
            assert_eq!(preconditions(&v, None, Some(date)), Precondition::Proceed);
        }
        assert!(!not_modified(&v, None, Some(earlier)));
        assert_eq!(preconditions(&v, None, Some(earlier)), Precondition::Failed);
        assert!(not_modified(&v, Some("\"x\", W/\"a-1\""), Some(earlier)), "weak comparison");
        assert_eq!(preconditions(&v, Some("W/\"a-1\""), None), Precondition::Failed);
        assert_eq!(preconditions(&v, Some("\"x\", \"a-1\""), Some(earlier)), Precondition::Proceed);
        assert_eq!(preconditions(&v, Some("*"), None), Precondition::Proceed);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%2e%2e/x").as_deref(), Some("/../x"));
        assert_eq!(percent_decode("/%00"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%2"), None);
    }
}
