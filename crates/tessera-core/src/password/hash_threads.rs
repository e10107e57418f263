//! The threads that hash passwords, and nothing else, at a lower scheduling priority than the
//! threads that serve requests.
//!
//! A hash keeps a core busy for tens of milliseconds. On Tokio's blocking pool it competed as an
//! equal with the async workers, so while sign-ins saturated the pool every token check waited
//! for a time slice behind a hash (p99 6.4× that of checks alone, BENCHMARKS.md). At a nice
//! value of +10 a hash gets about a tenth of a core against a busy request thread, and every
//! cycle the checks leave: a server doing only sign-ins hashes as fast as before. A check that
//! wakes still waits for the running hash's time slice unless its own is shorter, which is why
//! the server's request threads ask for a short one (`crate::thread_scheduling`).

#[cfg(target_os = "linux")]
use crate::thread_scheduling;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// How much less the hashing threads count than the others (nice +10: about a tenth of a core
/// against one busy request thread, all of it when nothing else runs).
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads; they end when the last clone of this is dropped.
#[derive(Clone)]
pub(super) struct HashThreads {
    jobs: mpsc::Sender<Job>,
}

/// The work panicked, or the threads are gone.
#[derive(Debug)]
pub(super) struct Lost;

impl HashThreads {
    pub fn start(count: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..count.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("tessera-argon2-{i}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        // The lock is held only while waiting for the next job, not while it runs.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        let Ok(job) = job else { break };
                        job();
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on one of the threads and waits for its answer without blocking the caller's
    /// async worker. Callers bound how many wait (the hasher's semaphore).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Lost> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic would otherwise end the thread; the caller hears of it as Lost.
            if let Ok(value) = catch_unwind(AssertUnwindSafe(work)) {
                let _ = answer.send(value);
            }
        });
        self.jobs.send(job).map_err(|_| Lost)?;
        answered.await.map_err(|_| Lost)
    }
}

/// On Linux a nice value belongs to a thread, so this leaves the rest of the process alone.
/// The thread also takes the default time slice: a thread inherits its creator's, and the
/// server's request threads ask for a short one so that they preempt a hash when they wake.
/// Elsewhere the threads keep the normal priority. A refusal is harmless: it only costs latency.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: sched_attr is plain integers, so all zeros is a valid value.
    let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
    attr.sched_policy = libc::SCHED_OTHER as u32;
    attr.sched_nice = NICENESS;
    // sched_runtime 0: the kernel's default slice.
    if thread_scheduling::set_this_threads_scheduling(&attr).is_ok() {
        return;
    }
    // Kernels before 3.14 lack sched_setattr: the nice value alone, then.
    // SAFETY: setpriority reads its integer arguments only; gettid cannot fail.
    let niced =
        unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICENESS) }
            == 0;
    if !niced {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the priority of a hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {
    let _ = NICENESS;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_hashing_thread_and_answers() {
        let threads = HashThreads::start(2).unwrap();
        let name = threads
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(
            name.as_deref().map(|n| n.starts_with("tessera-argon2-")),
            Some(true)
        );
    }

    /// The calling thread's nice value and time slice (sched_runtime, in ns).
    #[cfg(target_os = "linux")]
    fn this_threads_nice_and_slice() -> (i32, u64) {
        let attr = thread_scheduling::this_threads_scheduling().expect("sched_getattr");
        (attr.sched_nice, attr.sched_runtime)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_hashing_threads_run_at_nice_10_with_the_default_slice_whoever_starts_them() {
        let (ours, theirs) = std::thread::spawn(|| {
            // The starting thread asks for a short slice, as the server's request threads do
            // (Linux 6.12 and later keep it; a new thread inherits it).
            thread_scheduling::ask_for_a_short_slice();
            let threads = HashThreads::start(1).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let theirs = runtime
                .block_on(threads.run(this_threads_nice_and_slice))
                .unwrap();
            (this_threads_nice_and_slice(), theirs)
        })
        .join()
        .unwrap();
        assert_eq!(theirs.0, NICENESS);
        if thread_scheduling::kernel_keeps_slices() {
            assert_eq!(ours.1, thread_scheduling::REQUEST_THREAD_SLICE_NS);
            assert_ne!(
                theirs.1,
                thread_scheduling::REQUEST_THREAD_SLICE_NS,
                "the hashing thread kept its creator's slice"
            );
        }
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_thread_carries_on() {
        let threads = HashThreads::start(1).unwrap();
        assert!(threads.run(|| panic!("boom")).await.is_err());
        assert_eq!(threads.run(|| 7).await.unwrap(), 7);
    }
}
