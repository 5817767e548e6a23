//! What a service costs to run: time from process start to readiness, resident memory idle and
//! under load (`VmRSS` from `/proc/PID/status`), and the size of its binary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use test_support::proc_stat_fields;
use tokio_util::sync::CancellationToken;

use crate::latency::median;

/// How often memory is sampled under load.
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
        let millis = |duration: Duration| duration.as_secs_f64() * 1000.0;
        StartTimes {
            samples: samples.len(),
            median: median(samples).map_or(0.0, millis),
            min: samples.iter().copied().min().map_or(0.0, millis),
            max: samples.iter().copied().max().map_or(0.0, millis),
        }
    }
}

/// The memory lines of `/proc/PID/status` that explain a resident set.
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

/// One field of a `/proc/PID/status` text: a count, or a size in kB returned in bytes.
fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?;
    let mut fields = line.split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        None => Some(value),
        Some("kB") => Some(value * 1024),
        Some(_) => None,
    }
}

/// The memory of a process from its `/proc/PID/status` text.
pub(crate) fn parse_status(status: &str) -> Option<Memory> {
    Some(Memory {
        rss_bytes: status_field(status, "VmRSS")?,
        anonymous_bytes: status_field(status, "RssAnon").unwrap_or(0),
        file_bytes: status_field(status, "RssFile").unwrap_or(0),
        threads: status_field(status, "Threads").unwrap_or(0),
    })
}

/// The memory of a running process.
pub(crate) fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_status(&status).ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// Clock ticks per second in `/proc/PID/stat` (the kernel's `USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

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

    /// What was used between `earlier` and this reading.
    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }
}

/// The CPU time a process has used from its `/proc/PID/stat` text (fields 14 and 15).
pub(crate) fn parse_cpu(stat: &str) -> Option<Cpu> {
    let mut fields = proc_stat_fields(stat)?.skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Cpu {
        user: user as f64 / USER_HZ,
        system: system as f64 / USER_HZ,
    })
}

/// The CPU time the processes `pids` used so far, together.
pub(crate) fn cpu(pids: &[u32]) -> anyhow::Result<Cpu> {
    let mut sum = Cpu::default();
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let used =
            parse_cpu(&stat).ok_or_else(|| anyhow::anyhow!("no CPU times in /proc/{pid}/stat"))?;
        sum.user += used.user;
        sum.system += used.system;
    }
    Ok(sum)
}

/// Samples the memory of some processes until stopped, keeping each one's peak.
pub(crate) struct PeakSampler {
    peaks: Arc<Mutex<HashMap<u32, u64>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl PeakSampler {
    pub(crate) fn start(pids: Vec<u32>) -> Self {
        let peaks: Arc<Mutex<HashMap<u32, u64>>> = Arc::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let peaks = Arc::clone(&peaks);
            let stop = stop.clone();
            async move {
                let mut ticker = tokio::time::interval(SAMPLE_INTERVAL);
                while stop.run_until_cancelled(ticker.tick()).await.is_some() {
                    for &pid in &pids {
                        if let (Ok(memory), Ok(mut peaks)) = (memory(pid), peaks.lock()) {
                            let peak = peaks.entry(pid).or_default();
                            *peak = (*peak).max(memory.rss_bytes);
                        }
                    }
                }
            }
        });
        PeakSampler { peaks, stop, task }
    }

    /// Stops sampling and returns each process's peak, in bytes.
    pub(crate) async fn finish(self) -> HashMap<u32, u64> {
        self.stop.cancel();
        let _ = self.task.await;
        self.peaks
            .lock()
            .map(|peaks| peaks.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_from_the_status_lines_in_bytes() {
        let status = "Name:\torders\nVmPeak:\t  900000 kB\nVmRSS:\t   12345 kB\n\
                      RssAnon:\t    10000 kB\nRssFile:\t    2345 kB\nThreads:\t19\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss_bytes: 12345 * 1024,
                anonymous_bytes: 10000 * 1024,
                file_bytes: 2345 * 1024,
                threads: 19
            })
        );
    }

    #[test]
    fn a_status_without_resident_memory_reads_as_nothing() {
        assert_eq!(parse_status("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn start_times_report_median_and_range_in_milliseconds() {
        let ms = Duration::from_millis;
        let times = StartTimes::of(&[ms(40), ms(20), ms(90)]);
        assert_eq!(
            times,
            StartTimes {
                samples: 3,
                median: 40.0,
                min: 20.0,
                max: 90.0
            }
        );
    }

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 2711 0 0 0 250 75 0 0 20 0 \
                    9 0 1234 5678 900 18446744073709551615";
        assert_eq!(
            parse_cpu(stat),
            Some(Cpu {
                user: 2.5,
                system: 0.75
            })
        );
        assert_eq!(parse_cpu("4242 (cut short) S 1"), None);
        assert!(cpu(&[std::process::id()]).is_ok());
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let memory = memory(std::process::id()).expect("reading /proc");
        assert!(memory.rss_bytes > 0 && memory.threads > 0, "{memory:?}");
    }
}
