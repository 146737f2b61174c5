//! The `Date` header: IMF-fixdate (RFC 9110 §5.6.7), formatted at most once a second.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

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
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to seconds since the epoch.
/// The obsolete formats are not accepted (a conditional header in one is ignored).
pub(crate) fn parse_imf_fixdate(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let rest = s.trim().split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let d: u32 = day.parse().ok()?;
    let m = MONTHS.iter().position(|x| x == month)? as u32 + 1;
    let y: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else { return None };
    if d == 0 || d > 31 || *h > 23 || *mi > 59 || *se > 60 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    u64::try_from(days).ok().map(|days| days * 86_400 + h * 3600 + mi * 60 + se)
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's method).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
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
            assert_eq!(parse_imf_fixdate(&imf_fixdate(secs)), Some(secs));
        }
        assert_eq!(parse_imf_fixdate("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_imf_fixdate("garbage"), None);
        assert_eq!(imf_fixdate(1_795_305_600), "Sun, 22 Nov 2026 00:00:00 GMT"); // `date -u -d @1795305600`
    }
}
