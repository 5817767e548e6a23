//! What a service costs to run: time from process start to readiness, resident memory idle and
//! under load (`VmRSS` from `/proc/PID/status`), and the size of its binary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Footprint {
    pub(crate) service: &'static str,
    pub(crate) start_to_ready_ms: StartTimes,
    pub(crate) idle_rss_bytes: u64,
    /// The highest sample taken while load ran.
    pub(crate) load_rss_bytes: u64,
    pub(crate) binary_bytes: u64,
}

/// The resident set size in a `/proc/PID/status` text, in bytes.
pub(crate) fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let kilobytes: u64 = fields.next()?.parse().ok()?;
    (fields.next()? == "kB").then_some(kilobytes * 1024)
}

/// The resident set size of a running process, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))
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
                        if let (Ok(rss), Ok(mut peaks)) = (rss_bytes(pid), peaks.lock()) {
                            let peak = peaks.entry(pid).or_default();
                            *peak = (*peak).max(rss);
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
    fn the_resident_set_is_read_from_the_vm_rss_line_in_bytes() {
        let status = "Name:\torders\nVmPeak:\t  900000 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
    }

    #[test]
    fn a_status_without_resident_memory_reads_as_nothing() {
        assert_eq!(parse_vm_rss("Name:\tzombie\nState:\tZ (zombie)\n"), None);
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
    fn this_process_has_a_resident_set() {
        assert!(rss_bytes(std::process::id()).expect("reading /proc") > 0);
    }
}
