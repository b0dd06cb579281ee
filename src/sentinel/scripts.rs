//! The notification and client-reconfiguration scripts (spec/sentinel.md
//! 5.4): a queue of jobs run as child processes, at most 16 at a time and
//! 256 queued, killed after the maximum run time, retried with a doubling
//! delay when they exit with 1 or die by a signal (at most 10 runs), and
//! reported with `-script-error` / `-script-timeout` otherwise.

use std::cell::RefCell;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

use super::commands::PendingScript;
use super::core::settings::Timing;
use super::core::Event;

const MAX_RUNNING: usize = 16;
const MAX_QUEUED: usize = 256;
const MAX_RUNS: u32 = 10;

struct Job {
    argv: Vec<String>,
    child: Option<Child>,
    /// When it started (running), or when it may start.
    at_ms: i64,
    runs: u32,
}

/// The script queue.
#[derive(Default)]
pub struct Scripts {
    jobs: RefCell<Vec<Job>>,
}

impl Scripts {
    /// Queue `argv` (path first) to run as soon as possible; the oldest
    /// job not running makes room when the queue is full.
    pub fn schedule(&self, argv: Vec<String>) {
        let mut jobs = self.jobs.borrow_mut();
        if jobs.len() >= MAX_QUEUED {
            if let Some(i) = jobs.iter().position(|j| j.child.is_none()) {
                jobs.remove(i);
            }
        }
        jobs.push(Job {
            argv,
            child: None,
            at_ms: 0,
            runs: 0,
        });
    }

    /// (running, queued) for INFO.
    pub fn counts(&self) -> (usize, usize) {
        let jobs = self.jobs.borrow();
        let running = jobs.iter().filter(|j| j.child.is_some()).count();
        (running, jobs.len())
    }

    /// Start due jobs, reap finished ones, kill overdue ones; returns the
    /// events to publish.
    pub fn tick(&self, now: i64, timing: &Timing) -> Vec<Event> {
        let mut events = Vec::new();
        self.reap(now, timing, &mut events);
        self.kill_overdue(now, timing, &mut events);
        self.start_due(now, &mut events);
        events
    }

    fn start_due(&self, now: i64, events: &mut Vec<Event>) {
        let mut jobs = self.jobs.borrow_mut();
        let mut running = jobs.iter().filter(|j| j.child.is_some()).count();
        let mut failed = Vec::new();
        for (i, job) in jobs.iter_mut().enumerate() {
            if running >= MAX_RUNNING {
                break;
            }
            if job.child.is_some() || job.at_ms > now {
                continue;
            }
            job.runs += 1;
            match Command::new(&job.argv[0])
                .args(&job.argv[1..])
                .stdin(Stdio::null())
                .spawn()
            {
                Ok(child) => {
                    events.push(event("+script-child", child.id().to_string()));
                    job.child = Some(child);
                    job.at_ms = now;
                    running += 1;
                }
                Err(_) => {
                    events.push(event("-script-error", format!("{} 99 0", job.argv[0])));
                    failed.push(i);
                }
            }
        }
        for i in failed.into_iter().rev() {
            jobs.remove(i);
        }
    }

    fn reap(&self, now: i64, timing: &Timing, events: &mut Vec<Event>) {
        let mut jobs = self.jobs.borrow_mut();
        let mut done = Vec::new();
        for (i, job) in jobs.iter_mut().enumerate() {
            let Some(child) = job.child.as_mut() else {
                continue;
            };
            let Ok(Some(status)) = child.try_wait() else {
                continue;
            };
            let signal = status.signal().unwrap_or(0);
            let code = status.code().unwrap_or(0);
            events.push(event(
                "-script-child",
                format!("{} {code} {signal}", child.id()),
            ));
            job.child = None;
            if (signal != 0 || code == 1) && job.runs < MAX_RUNS {
                // Retried: 30 s, 60 s, 120 s, ... after the first failure.
                job.at_ms = now + timing.script_retry_delay * (1 << (job.runs - 1).min(20));
                continue;
            }
            if signal != 0 || code != 0 {
                events.push(event(
                    "-script-error",
                    format!("{} {} {code}", job.argv[0], (signal != 0) as u8),
                ));
            }
            done.push(i);
        }
        for i in done.into_iter().rev() {
            jobs.remove(i);
        }
    }

    fn kill_overdue(&self, now: i64, timing: &Timing, events: &mut Vec<Event>) {
        for job in self.jobs.borrow_mut().iter_mut() {
            if let Some(child) = job.child.as_mut() {
                if now - job.at_ms > timing.script_max_runtime {
                    events.push(event(
                        "-script-timeout",
                        format!("{} {}", job.argv[0], child.id()),
                    ));
                    let _ = child.kill();
                }
            }
        }
    }

    /// The queue as `SENTINEL PENDING-SCRIPTS` shows it.
    pub fn pending(&self, now: i64) -> Vec<PendingScript> {
        self.jobs
            .borrow()
            .iter()
            .map(|j| PendingScript {
                argv: j.argv.clone(),
                running: j.child.as_ref().map(Child::id),
                ms: match &j.child {
                    Some(_) => now - j.at_ms,
                    None if j.at_ms == 0 => 0,
                    None => (j.at_ms - now).max(0),
                },
                retry_num: j.runs,
            })
            .collect()
    }
}

fn event(name: &'static str, payload: String) -> Event {
    Event {
        name,
        payload,
        master: None,
    }
}
