//! Times as HCP and the inputs write them: RFC 3339, parsed without a
//! date-time crate.

/// An RFC 3339 time as (seconds since the epoch, nanoseconds), for ordering.
pub fn rfc3339(s: &str) -> Option<(i64, u32)> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in frac.bytes().take(digits).enumerate() {
            if i < 9 {
                n = n * 10 + u32::from(c - b'0');
            }
        }
        nanos = n * 10u32.pow(9u32.saturating_sub(digits as u32));
        rest = frac.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest.get(1..)?;
            if o.len() != 5 || o.as_bytes()[2] != b':' {
                return None;
            }
            let (oh, om): (i64, i64) = (o.get(0..2)?.parse().ok()?, o.get(3..5)?.parse().ok()?);
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some((days * 86400 + hh * 3600 + mm * 60 + ss - offset, nanos))
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `secs` since the epoch as RFC 3339 UTC (`2026-12-07T06:30:00Z`).
pub fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days (H. Hinnant's algorithm).
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_writes_what_rfc3339_reads() {
        for secs in [0, 951868800, 1622541600, 1796620000, 4102444799] {
            assert_eq!(rfc3339(&utc(secs)), Some((secs, 0)), "{}", utc(secs));
        }
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn times_order() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(rfc3339("2000-03-01T00:00:00Z"), Some((951868800, 0)));
        assert_eq!(rfc3339("2021-06-01T12:00:00.5+02:00"), Some((1622541600, 500_000_000)));
        assert!(rfc3339("2022-01-01T00:00:00.123Z") > rfc3339("2022-01-01T00:00:00Z"));
        assert!(rfc3339("2022-01-01T00:00:00Z") < rfc3339("2021-12-31T23:00:00-02:00"));
        assert_eq!(rfc3339("yesterday"), None);
        assert_eq!(rfc3339("2022-13-01T00:00:00Z"), None);
    }

    #[test]
    fn inputs_that_are_times_and_that_are_not() {
        for ok in [
            "2026-12-24T18:00:00Z",
            "2026-12-24T18:00:00.123Z",
            "2026-12-24T18:00:00+01:00",
        ] {
            assert!(rfc3339(ok).is_some(), "{ok}");
        }
        for bad in [
            "2026-12-24",
            "2026-13-01T00:00:00Z",
            "2026-12-24T18:00:00",
            "tomorrow",
            "2026-12-24T18:00:00.Z",
        ] {
            assert!(rfc3339(bad).is_none(), "{bad}");
        }
    }
}
