//! The threads that hash passwords, and nothing else, at a lower scheduling priority than the
//! threads that serve requests.
//!
//! A hash keeps a core busy for tens of milliseconds. On Tokio's blocking pool it competed as an
//! equal with the async workers, so while sign-ins saturated the pool every token check waited
//! for a time slice behind a hash (p99 6.4× that of checks alone, BENCHMARKS.md). At a nice
//! value of +10 the scheduler gives a waiting check the core at once, and the hashes get every
//! cycle the checks leave: a server doing only sign-ins hashes as fast as before.

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
/// Elsewhere the threads keep the normal priority. A refusal is harmless: it only costs latency.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: setpriority reads its integer arguments only; gettid cannot fail.
    let refused = unsafe {
        let thread = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, NICENESS) != 0
    };
    if refused {
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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_hashing_threads_run_at_a_lower_priority_than_the_caller() {
        let threads = HashThreads::start(1).unwrap();
        // SAFETY: getpriority reads its arguments only. -1 can be a valid answer, hence errno.
        let of_this_thread =
            || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let ours = of_this_thread();
        let theirs = threads.run(of_this_thread).await.unwrap();
        assert_eq!(theirs, (ours + NICENESS).min(19));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_thread_carries_on() {
        let threads = HashThreads::start(1).unwrap();
        assert!(threads.run(|| panic!("boom")).await.is_err());
        assert_eq!(threads.run(|| 7).await.unwrap(), 7);
    }
}
