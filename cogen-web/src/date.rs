//! HTTP dates (RFC 9110 §5.6.7): the `Date` header formatted at most once a second, and the
//! three date forms a request may carry, parsed by the `httpdate` crate.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The last second `httpdate` can format (9999-12-31 23:59:59 UTC); later times are clamped
/// to it rather than panic (a file's mtime can be anything).
const LAST_FORMATTABLE: u64 = 253_402_300_799;

/// `date: ` + an IMF-fixdate (always 29 bytes: the year is clamped to four digits) + CRLF.
const LINE_LEN: usize = 6 + 29 + 2;

/// The `Date` header line of the current second.
#[derive(Debug, Default)]
pub(crate) struct DateCache {
    cached: RefCell<Option<CachedLine>>,
}

/// A formatted header line and the monotonic instant until which it holds.
#[derive(Debug)]
struct CachedLine {
    /// When the wall clock's second ends, on the monotonic clock.
    until: Instant,
    line: [u8; LINE_LEN],
}

impl DateCache {
    /// Appends `date: <now>\r\n` to `out`.
    ///
    /// Per request this costs one monotonic clock read and a comparison: the wall clock is read
    /// and the date formatted only when the second the cached line was made in has ended. A
    /// wall clock stepped meanwhile is seen within that second.
    pub(crate) fn append_header(&self, out: &mut Vec<u8>) {
        self.append_header_at(Instant::now(), SystemTime::now, out);
    }

    /// [`append_header`](Self::append_header) at monotonic instant `now`; `wall` reads the
    /// wall clock, only when the cached line has expired.
    fn append_header_at(&self, now: Instant, wall: impl FnOnce() -> SystemTime, out: &mut Vec<u8>) {
        let mut cached = self.cached.borrow_mut();
        let fresh = match &*cached {
            Some(c) if now < c.until => c,
            _ => cached.insert(CachedLine::at(now, wall())),
        };
        out.extend_from_slice(&fresh.line);
    }
}

impl CachedLine {
    /// The line for wall-clock time `wall`, read at monotonic instant `now`.
    fn at(now: Instant, wall: SystemTime) -> Self {
        let since_epoch = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        let date = imf_fixdate(since_epoch.as_secs());
        let mut line = [b' '; LINE_LEN];
        line[..6].copy_from_slice(b"date: ");
        // Always 29 bytes; a shorter one (none is) would leave spaces, never garbage.
        let n = date.len().min(29);
        line[6..6 + n].copy_from_slice(&date.as_bytes()[..n]);
        line[LINE_LEN - 2..].copy_from_slice(b"\r\n");
        let left =
            Duration::from_secs(1) - Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
        CachedLine { until: now + left, line }
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
    fn the_date_line_is_reformatted_when_its_second_ends_and_only_then() {
        let cache = DateCache::default();
        let t0 = Instant::now();
        // 784,111,777.25 s after the epoch: the second ends 0.75 s later.
        let wall = UNIX_EPOCH + Duration::from_millis(784_111_777_250);
        let mut out = Vec::new();
        cache.append_header_at(t0, || wall, &mut out);
        assert_eq!(out, b"date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        let later = t0 + Duration::from_millis(749);
        out.clear();
        cache.append_header_at(
            later,
            || panic!("the wall clock is not read within the second"),
            &mut out,
        );
        assert_eq!(out, b"date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
        out.clear();
        let next = t0 + Duration::from_millis(750);
        cache.append_header_at(next, || wall + Duration::from_millis(750), &mut out);
        assert_eq!(out, b"date: Sun, 06 Nov 1994 08:49:38 GMT\r\n");
        // The real clocks' line (a fresh cache) parses back to about now.
        out.clear();
        DateCache::default().append_header(&mut out);
        let text = std::str::from_utf8(&out).expect("ASCII");
        let secs = parse_http_date(text.trim_start_matches("date: ").trim_end()).expect("a date");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        assert!(now.abs_diff(secs) <= 2, "{text:?}");
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
