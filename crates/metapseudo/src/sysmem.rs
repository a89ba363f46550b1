//! Resident memory of this process from Linux's `/proc/self`: current, peak, and a reset of the
//! peak so a measurement can cover one phase only. Elsewhere the values are `None`.

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Current resident memory in bytes.
pub fn rss() -> Option<u64> {
    status_kib("VmRSS:").map(|k| k * 1024)
}

/// Peak resident memory in bytes since start or since the last [`reset_peak_rss`].
pub fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

/// Resets the peak to the current resident memory (Linux: `5` to `/proc/self/clear_refs`) and
/// returns the current resident memory.
pub fn reset_peak_rss() -> Option<u64> {
    // Not fatal when unsupported: the peak then covers the whole process.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    rss()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_covers_a_touched_allocation_and_the_current_size() {
        // Other tests run in this process at the same time, so only bounds that hold whatever
        // they allocate or free are checked.
        if reset_peak_rss().is_none() {
            return;
        }
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let now = rss().unwrap();
        let peak = peak_rss().unwrap();
        assert!(now >= 64 << 20, "{now}");
        assert!(peak >= now, "{peak} vs {now}");
    }
}
