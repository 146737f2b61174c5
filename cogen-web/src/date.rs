//! HTTP dates (RFC 9110 §5.6.7): the `Date` header formatted at most once a second, and the
//! three date forms a request may carry, parsed by the `httpdate` crate.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last second `httpdate` can format (9999-12-31 23:59:59 UTC); later times are clamped
/// to it rather than panic (a file's mtime can be anything).
const LAST_FORMATTABLE: u64 = 253_402_300_799;

/// The formatted date of the current second.
#[derive(Debug, Default)]
pub(crate) struct DateCache {
    cached: RefCell<(u64, String)>,
}

impl DateCache {
    /// Appends `Date: <now>\r\n` to `out`.
    pub(crate) fn append_header(&self, out: &mut Vec<u8>) {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut c = self.cached.borrow_mut();
        if c.0 != secs || c.1.is_empty() {
            *c = (secs, imf_fixdate(secs));
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(c.1.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for `secs` since the Unix epoch.
pub(crate) fn imf_fixdate(secs: u64) -> String {
    let secs = secs.min(LAST_FORMATTABLE);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses an HTTP date in any of its three forms — IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`), the obsolete RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6
/// 08:49:37 1994`), as a recipient must (RFC 9110 §5.6.7) — to seconds since the epoch.
/// `None` for anything else (a conditional header with an invalid date is ignored).
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(imf_fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        for secs in [0, 784_111_777, 951_782_400, 1_795_305_600, 4_102_444_799] {
            assert_eq!(parse_http_date(&imf_fixdate(secs)), Some(secs));
        }
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(imf_fixdate(1_795_305_600), "Sun, 22 Nov 2026 00:00:00 GMT"); // `date -u -d @1795305600`
        assert_eq!(imf_fixdate(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT", "clamped, no panic");
    }

    #[test]
    fn parses_the_three_date_forms() {
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            " Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(parse_http_date(form), Some(784_111_777), "{form:?}");
        }
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("06 Nov 1994"), None);
    }
}
