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

/// The kernel's peak resident set of this process so far (VmHWM), in bytes:
/// the true high-water mark, not a sample that may miss it (0 where /proc
/// is unavailable).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
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
    fn reads_this_process() {
        let s = sample();
        assert!(s.rss_bytes > 1024 * 1024, "{s:?}");
        assert!(s.threads >= 1, "{s:?}");
        assert!(s.open_fds >= 3, "{s:?}");
        assert!(peak_rss_bytes() >= s.rss_bytes / 2, "VmHWM is read");
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
