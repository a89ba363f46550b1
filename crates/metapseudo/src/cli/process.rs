//! Process-wide settings made once at start, before any thread: the allocator's thresholds and
//! the default SIGPIPE action.

/// Asks glibc's allocator to keep freed memory for reuse: every training step allocates and
/// frees tensors of a few megabytes, which glibc by default returns to the system (its mmap
/// threshold) and takes back through page faults that zero each page again. Raising the mmap
/// threshold to its maximum (32 MiB) and the trim threshold made the WRN-28-2 step 15-20 %
/// faster with the same peak memory (BENCHMARKS.md). `MALLOC_*` variables set by the user win.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_set = std::env::vars_os().any(|(key, _)| {
            key.to_str()
                .is_some_and(|k| k.starts_with("MALLOC_") && k.ends_with("_THRESHOLD_"))
        });
        if !user_set {
            // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        }
    }
}

/// Output piped into `head` and the like: end quietly when the reader goes away, as Unix tools
/// do, instead of panicking on the failed write.
pub fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default action of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
