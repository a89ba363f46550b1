//! UTC calendar times for run-folder names and study records, without a time-zone library.

/// A UTC time: date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime {
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: i64,
    /// Day of the month, 1-31.
    pub day: i64,
    /// Hour, minute and second.
    pub hms: (u64, u64, u64),
}

impl UtcTime {
    /// The time `secs` seconds after 1970-01-01 00:00:00 UTC.
    pub fn from_unix(secs: u64) -> Self {
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hms: (rem / 3600, rem % 3600 / 60, rem % 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_become_calendar_dates() {
        let t = UtcTime::from_unix(1_796_688_000 + 3_723);
        assert_eq!((t.year, t.month, t.day, t.hms), (2026, 12, 8, (1, 2, 3)));
        assert_eq!(UtcTime::from_unix(0).year, 1970);
        assert_eq!(UtcTime::from_unix(951_782_400).day, 29, "2000-02-29");
    }
}
