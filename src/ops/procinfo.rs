//! Process resource readings from /proc (Linux), for `/metrics` and heartbeats.

use std::time::Instant;

/// One reading of this process's resources.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    pub threads: u64,
    pub open_fds: u64,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for unknown names.
    let t = unsafe { libc_sysconf(2) }; // _SC_CLK_TCK
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

extern "C" {
    #[link_name = "sysconf"]
    fn libc_sysconf(name: i32) -> i64;
}

fn page_size() -> u64 {
    // SAFETY: as above; 30 = _SC_PAGESIZE on Linux.
    let p = unsafe { libc_sysconf(30) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Read the current process's sample (zeros where /proc is unavailable).
pub fn sample() -> ProcSample {
    let mut s = ProcSample::default();
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        if let Some(rss_pages) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
        {
            s.rss_bytes = rss_pages * page_size();
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may contain spaces) start after ')'.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the full line: 11 and 12 here.
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            s.cpu_seconds = (ticks(11) + ticks(12)) as f64 / clock_ticks();
            s.threads = ticks(17);
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        s.open_fds = dir.count() as u64;
    }
    s
}

/// The whole machine's CPU time so far, busy and in all, in core-seconds
/// (`/proc/stat`'s first line; zeros where it is unavailable). A load run
/// reads it beside its own: the brokers and the load itself share the
/// machine's cores with the node.
pub fn machine_cpu_seconds() -> MachineCpu {
    std::fs::read_to_string("/proc/stat")
        .map(|s| MachineCpu::parse(&s))
        .unwrap_or_default()
}

/// A reading of `/proc/stat`'s `cpu` line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineCpu {
    /// Every state but idle and iowait, summed over the cores.
    pub busy_seconds: f64,
    pub total_seconds: f64,
    /// The machine's cores (its `cpuN` lines).
    pub cores: u32,
}

impl MachineCpu {
    fn parse(stat: &str) -> MachineCpu {
        let cores = stat
            .lines()
            .filter(|l| {
                l.strip_prefix("cpu")
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count() as u32;
        let mut f = stat.lines().next().unwrap_or("").split_whitespace();
        if f.next() != Some("cpu") {
            return MachineCpu::default();
        }
        // user nice system idle iowait irq softirq steal (guest time is
        // already inside user and nice).
        let t: Vec<u64> = f.take(8).map(|v| v.parse().unwrap_or(0)).collect();
        let total: u64 = t.iter().sum();
        let idle = t.get(3).copied().unwrap_or(0) + t.get(4).copied().unwrap_or(0);
        MachineCpu {
            busy_seconds: total.saturating_sub(idle) as f64 / clock_ticks(),
            total_seconds: total as f64 / clock_ticks(),
            cores,
        }
    }

    /// Cores kept busy on average between `before` and this reading (the
    /// time both span is their total over the cores).
    pub fn cores_busy_since(&self, before: &MachineCpu) -> f64 {
        let spanned = (self.total_seconds - before.total_seconds) / self.cores.max(1) as f64;
        if spanned <= 0.0 {
            return 0.0;
        }
        (self.busy_seconds - before.busy_seconds) / spanned
    }
}

/// A `kB` line of `/proc/self/status` (`VmHWM:`, `RssAnon:`), in bytes;
/// None where /proc or the line is missing.
fn status_bytes(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// The kernel's peak resident set of this process so far (VmHWM), in bytes:
/// the true high-water mark, not a sample that may miss it (0 where /proc
/// is unavailable).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_bytes(&s, "VmHWM:"))
        .unwrap_or(0)
}

/// The resident set by kind, in bytes (zeros where /proc is unavailable).
/// Anonymous pages are what the process allocated; file pages are the
/// binary's and its libraries' code and data the kernel has mapped in, which
/// moves with the page cache, not with what the process holds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RssParts {
    pub anon: u64,
    pub file: u64,
    pub shmem: u64,
}

/// This process's [`RssParts`] now.
pub fn rss_parts() -> RssParts {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return RssParts::default();
    };
    let get = |key| status_bytes(&s, key).unwrap_or(0);
    RssParts {
        anon: get("RssAnon:"),
        file: get("RssFile:"),
        shmem: get("RssShmem:"),
    }
}

/// CPU use between two calls, as a percentage of one core.
#[derive(Debug)]
pub struct CpuMeter {
    last: Option<(Instant, f64)>,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuMeter {
    pub fn new() -> Self {
        Self { last: None }
    }

    pub fn percent(&mut self, sample: &ProcSample) -> f64 {
        let now = Instant::now();
        let pct = match self.last {
            Some((t, cpu)) => {
                let wall = now.duration_since(t).as_secs_f64();
                if wall > 0.0 {
                    ((sample.cpu_seconds - cpu) / wall * 100.0).max(0.0)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, sample.cpu_seconds));
        (pct * 10.0).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_line_counts_busy_time_and_cores() {
        let before = MachineCpu::parse(
            "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\nintr 1\n",
        );
        assert_eq!(before.cores, 2);
        // 200 more ticks in all (1 s of 2 cores at 100 Hz), 150 of them busy.
        let after = MachineCpu::parse(
            "cpu  200 0 150 850 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\n",
        );
        let busy = after.cores_busy_since(&before);
        assert!((busy - 1.5).abs() < 1e-9, "{busy}");
        assert_eq!(MachineCpu::parse("garbage"), MachineCpu::default());
        assert!(machine_cpu_seconds().cores >= 1);
    }

    #[test]
    fn reads_this_process() {
        let s = sample();
        assert!(s.rss_bytes > 1024 * 1024, "{s:?}");
        assert!(s.threads >= 1, "{s:?}");
        assert!(s.open_fds >= 3, "{s:?}");
        assert!(peak_rss_bytes() >= s.rss_bytes / 2, "VmHWM is read");
        let parts = rss_parts();
        assert!(parts.anon > 0 && parts.file > 0, "{parts:?}");
        assert_eq!(
            status_bytes("Name:\tx\nRssAnon:\t  1200 kB\n", "RssAnon:"),
            Some(1200 * 1024)
        );
        assert_eq!(status_bytes("RssAnon: lots", "RssAnon:"), None);
        let mut m = CpuMeter::new();
        assert_eq!(m.percent(&s), 0.0);
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(m.percent(&sample()) >= 0.0);
    }
}
