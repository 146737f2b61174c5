//! Static files: a handler that serves a directory with `sendfile`, validators (`ETag`,
//! `Last-Modified`, `304`), single byte ranges (`206`, `416`), MIME types from `mime_guess`,
//! `HEAD`, an optional directory index, and no way out of the root (`..`, encoded `%2e%2e`,
//! symlinks that leave it: all 404).

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use cogen::{Coroutine, IntoYield};
use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH, RANGE};
use http::{Method, StatusCode};

use crate::date::{imf_fixdate, parse_imf_fixdate};
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
    let not_modified = match headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(tags) => tags
            .split(',')
            .map(str::trim)
            .any(|t| t == etag || t == "*" || t.strip_prefix("W/") == Some(&etag)),
        None => headers
            .get(IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_imf_fixdate)
            .is_some_and(|since| mtime_secs <= since),
    };
    if not_modified {
        let r = http::Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header("etag", &etag)
            .header("last-modified", &last_modified)
            .body(&b""[..])
            .map_err(|e| Error::Handler(e.to_string()))?;
        return yield_!(res.send(r));
    }
    let mime = mime_guess::from_path(&path).first_or_octet_stream().to_string();
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok()).map(|r| parse_range(r, len));
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
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%2e%2e/x").as_deref(), Some("/../x"));
        assert_eq!(percent_decode("/%00"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%2"), None);
    }
}
