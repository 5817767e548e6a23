//! What a process costs to run, from the kernel (`/proc/PID/status` and `stat`, through procfs):
//! resident memory idle and under load, CPU time; and a service's start-to-ready times.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use procfs::process::Process;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::latency::median;

const SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StartTimes {
    pub(crate) samples: usize,
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl StartTimes {
    pub(crate) fn of(samples: &[Duration]) -> Self {
        let millis = |duration: Option<Duration>| duration.map_or(0.0, |d| d.as_secs_f64() * 1e3);
        StartTimes {
            samples: samples.len(),
            median: millis(median(samples)),
            min: millis(samples.iter().copied().min()),
            max: millis(samples.iter().copied().max()),
        }
    }
}

/// The lines of `/proc/PID/status` that explain a resident set, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Memory {
    pub(crate) rss_bytes: u64,
    /// Heap, stacks and other private memory.
    pub(crate) anonymous_bytes: u64,
    /// Pages of the binary and shared libraries that were touched.
    pub(crate) file_bytes: u64,
    pub(crate) threads: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Footprint {
    pub(crate) service: &'static str,
    pub(crate) start_to_ready_ms: StartTimes,
    pub(crate) idle: Memory,
    /// The highest sample taken while load ran.
    pub(crate) load_rss_bytes: u64,
    pub(crate) binary_bytes: u64,
}

fn process(pid: u32) -> anyhow::Result<Process> {
    Process::new(i32::try_from(pid)?).with_context(|| format!("no process {pid}"))
}

pub(crate) fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = process(pid)?.status()?;
    let bytes = |kib: Option<u64>| kib.unwrap_or(0) * 1024;
    Ok(Memory {
        rss_bytes: bytes(Some(status.vmrss.context("no VmRSS")?)),
        anonymous_bytes: bytes(status.rssanon),
        file_bytes: bytes(status.rssfile),
        threads: status.threads,
    })
}

/// CPU time, in seconds: in the process's own code, and in the kernel on its behalf.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Cpu {
    pub(crate) user: f64,
    pub(crate) system: f64,
}

impl Cpu {
    pub(crate) fn total(self) -> f64 {
        self.user + self.system
    }

    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }
}

fn cpu(pids: &[u32]) -> anyhow::Result<Cpu> {
    let ticks = procfs::ticks_per_second() as f64;
    pids.iter().try_fold(Cpu::default(), |sum, &pid| {
        let stat = process(pid)?.stat()?;
        Ok(Cpu {
            user: sum.user + stat.utime as f64 / ticks,
            system: sum.system + stat.stime as f64 / ticks,
        })
    })
}

/// Runs `work`; returns what it gave, the CPU `pids` used meanwhile and how long it took.
pub(crate) async fn metered<T>(
    pids: &[u32],
    work: impl Future<Output = T>,
) -> anyhow::Result<(T, Cpu, Duration)> {
    let (before, began) = (cpu(pids)?, Instant::now());
    let done = work.await;
    Ok((done, cpu(pids)?.since(before), began.elapsed()))
}

pub(crate) fn micros_per(seconds: f64, operations: f64) -> f64 {
    seconds * 1e6 / operations.max(1.0)
}

/// Samples the memory of some processes until stopped, keeping each one's peak.
pub(crate) struct PeakSampler {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<HashMap<u32, u64>>,
}

impl PeakSampler {
    pub(crate) fn start(pids: Vec<u32>) -> Self {
        let stop = CancellationToken::new();
        let sampling = stop.clone();
        let task = tokio::spawn(async move {
            let (mut ticker, mut peaks) = (tokio::time::interval(SAMPLE_INTERVAL), HashMap::new());
            while sampling.run_until_cancelled(ticker.tick()).await.is_some() {
                for &pid in &pids {
                    if let Ok(now) = memory(pid) {
                        let peak = peaks.entry(pid).or_default();
                        *peak = now.rss_bytes.max(*peak);
                    }
                }
            }
            peaks
        });
        PeakSampler { stop, task }
    }

    pub(crate) async fn finish(self) -> HashMap<u32, u64> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}
