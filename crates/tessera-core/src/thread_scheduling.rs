//! How tessera's threads ask Linux for a core: request threads first, when they wake; the
//! password hashes with what is left.
//!
//! The password hashes run on threads of their own at nice +10 (`password::hash_threads`). That
//! weighs the shares, but a check that woke while a hash held its core still waited for the
//! hash's time slice to run out: while sign-ins saturated the hash pool, the checks' p99 was
//! 4-6x that of checks alone. Since Linux 6.12 a thread may ask for a shorter slice than the
//! default (`sched_attr.sched_runtime`), and a waking thread whose slice is shorter than the
//! running one's preempts it. The server's request threads ask for the shortest slice the kernel
//! grants ([`ask_for_a_short_slice`]), so a request waits for no hash (p99 during sign-ins about
//! halved, BENCHMARKS.md); the hashes, with the default slice, still get every cycle the requests
//! leave. Older kernels accept the request and ignore it. Elsewhere than Linux nothing changes.

/// The shortest slice Linux grants a thread of the normal policy (0.1 ms).
pub const REQUEST_THREAD_SLICE_NS: u64 = 100_000;

/// Asks for the short slice for the calling thread: the server's runtime calls this on each of
/// its threads. The thread's policy and nice value stay as they are (an operator's `nice` or
/// `chrt` is kept), and a thread under a real-time policy is left alone. A refusal is harmless:
/// it only costs latency.
pub fn ask_for_a_short_slice() {
    #[cfg(target_os = "linux")]
    {
        let Some(mut attr) = this_threads_scheduling() else {
            return;
        };
        let policy = attr.sched_policy as i32;
        if policy != libc::SCHED_OTHER && policy != libc::SCHED_BATCH {
            return;
        }
        attr.sched_runtime = REQUEST_THREAD_SLICE_NS;
        if let Err(error) = set_this_threads_scheduling(&attr) {
            tracing::debug!(%error, "could not ask for a short time slice");
        }
    }
}

/// The calling thread's scheduling attributes, or None where the kernel has no sched_getattr.
#[cfg(target_os = "linux")]
pub(crate) fn this_threads_scheduling() -> Option<libc::sched_attr> {
    // SAFETY: sched_attr is plain integers, so all zeros is a valid value; the kernel writes at
    // most the size given.
    unsafe {
        let mut attr: libc::sched_attr = std::mem::zeroed();
        let size = std::mem::size_of::<libc::sched_attr>() as libc::c_uint;
        let answered = libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut libc::sched_attr,
            size,
            0,
        ) == 0;
        answered.then_some(attr)
    }
}

/// Sets the calling thread's scheduling attributes (policy, nice value, slice) in one call.
#[cfg(target_os = "linux")]
pub(crate) fn set_this_threads_scheduling(attr: &libc::sched_attr) -> std::io::Result<()> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<libc::sched_attr>() as u32;
    // SAFETY: the kernel reads `attr` (of the size it says) and nothing else; 0 is this thread.
    let set = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0,
            &attr as *const libc::sched_attr,
            0,
        ) == 0
    };
    if set {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Linux 6.12 is the first to keep a normal thread's slice; older ones report none.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn kernel_keeps_slices() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (6, 12)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_gets_the_short_slice_and_keeps_its_nice_value() {
        let (before, after) = std::thread::spawn(|| {
            // SAFETY: setpriority reads its integer arguments only.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 3) };
            let before = this_threads_scheduling().unwrap();
            ask_for_a_short_slice();
            (before, this_threads_scheduling().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(after.sched_policy, before.sched_policy);
        assert_eq!(after.sched_nice, 3);
        if kernel_keeps_slices() {
            assert_eq!(after.sched_runtime, REQUEST_THREAD_SLICE_NS);
            assert_ne!(before.sched_runtime, REQUEST_THREAD_SLICE_NS);
        }
    }
}
