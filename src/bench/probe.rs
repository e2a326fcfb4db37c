//! What the benchmark reads from `/proc` (Linux): CPU time of this process and
//! of PostgreSQL backends, and peak resident memory.

use std::{fs, time::Duration};

/// `/proc` reports CPU time in USER_HZ ticks, 100 per second on Linux.
const TICKS_PER_SECOND: u64 = 100;

/// The fields of `/proc/<pid>/stat` after the command name, from field 3 on
/// (the name is in parentheses and may hold spaces).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    // Field 3, the state, is a letter; the rest are numbers.
    Some(
        after_name
            .split_whitespace()
            .skip(1)
            .map(|field| field.parse().unwrap_or_default())
            .collect(),
    )
}

/// The sum of two fields of `stat` (numbered as in proc(5)) as CPU time.
fn cpu_fields(pid: &str, first: usize) -> Option<Duration> {
    let fields = stat_fields(pid)?;
    // Field n of stat is at n - 4 once the first three are gone.
    let ticks = fields.get(first - 4)? + fields.get(first - 3)?;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

/// User + system CPU time of a process (all its threads, live or exited):
/// `utime` and `stime`, fields 14 and 15.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    cpu_fields(pid, 14)
}

/// User + system CPU time of the children a process has waited for:
/// `cutime` and `cstime`, fields 16 and 17. A child's time is added when it
/// is reaped, so the difference around a child's run (the load generator,
/// pgbench; PostgreSQL's backends for the postmaster) is that child's CPU.
pub fn waited_children_cpu_time(pid: &str) -> Option<Duration> {
    cpu_fields(pid, 16)
}

/// The parent of a process (`ppid`, field 4).
pub fn parent(pid: i32) -> Option<i32> {
    let ppid = *stat_fields(&pid.to_string())?.first()?;
    i32::try_from(ppid).ok()
}

/// CPU time of this process: the server, its runtime and (SQLite) the database.
pub fn own_cpu_time() -> Duration {
    cpu_time("self").unwrap_or_default()
}

/// Total CPU time of some processes (those that still exist).
pub fn cpu_time_of(pids: &[i32]) -> Duration {
    pids.iter()
        .filter_map(|pid| cpu_time(&pid.to_string()))
        .sum()
}

fn status_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident set size of this process since start or the last [`reset_peak_rss`], in MiB.
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:").unwrap_or_default() as f64 / 1024.0
}

/// Current resident set size, in MiB.
pub fn rss_mib() -> f64 {
    status_kib("VmRSS:").unwrap_or_default() as f64 / 1024.0
}

/// Resets the peak RSS to the current RSS (`echo 5 > /proc/self/clear_refs`).
pub fn reset_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The machine, for the report: CPU model, cores, memory, kernel.
pub fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {mem_gib:.0} GiB RAM, Linux {}; CPU speed: SHA-256 of \
         {REFERENCE_MIB} MiB on one core in {} ms; memory latency: {:.0} ns per read \
         of a random chain through {REFERENCE_MIB} MiB (best of 3 each; lower is faster)",
        kernel.trim(),
        cpu_reference().as_millis(),
        memory_reference().as_secs_f64() * 1e9,
    )
}

/// The size of the reference workload of [`cpu_reference`].
const REFERENCE_MIB: usize = 64;

/// How long one core takes to hash `REFERENCE_MIB` MiB with SHA-256, best of
/// three. Virtual machines of the same description differ in speed, and one
/// machine from hour to hour; this figure tells runs on fast and slow CPUs apart.
pub fn cpu_reference() -> Duration {
    hash_time(REFERENCE_MIB)
}

/// How long one read takes in a chain of dependent reads at random places of
/// `REFERENCE_MIB` MiB, best of three. The server's work is bound by memory
/// more than SHA-256 is: on a host where the server took 3.5× the CPU per
/// request for the same instructions, [`cpu_reference`] read only 1.4× its
/// time.
pub fn memory_reference() -> Duration {
    const READS: u32 = 2_000_000;
    let chain = random_cycle(REFERENCE_MIB * 1024 * 1024 / 4);
    (0..3)
        .map(|_| {
            let started = std::time::Instant::now();
            let end = (0..READS).fold(0, |at, _| chain[at as usize]);
            std::hint::black_box(end);
            started.elapsed() / READS
        })
        .min()
        .unwrap_or_default()
}

/// A permutation of `0..n` that is one cycle through all of them (Sattolo's
/// shuffle, by a fixed xorshift): following it from any place visits every
/// place before coming back.
fn random_cycle(n: usize) -> Vec<u32> {
    let mut next: Vec<u32> = (0..n).map(|i| i as u32).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % i as u64) as usize;
        next.swap(i, j);
    }
    next
}

/// The best of three times to hash `mib` MiB with SHA-256.
fn hash_time(mib: usize) -> Duration {
    use sha2::{Digest, Sha256};
    let block = vec![0x5au8; 1024 * 1024];
    (0..3)
        .map(|_| {
            let started = std::time::Instant::now();
            let mut hasher = Sha256::new();
            for _ in 0..mib {
                hasher.update(&block);
            }
            std::hint::black_box(hasher.finalize());
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_the_cpu_speed_reference() {
        assert!(super::hash_time(1) > std::time::Duration::ZERO);
    }

    /// The memory reference follows one cycle through every place, so no
    /// read is answered from a short loop in the cache.
    #[test]
    fn the_memory_chain_is_one_cycle_through_every_place() {
        let n = 1000;
        let chain = super::random_cycle(n);
        let mut seen = vec![false; n];
        let mut at = 0;
        for _ in 0..n {
            assert!(!seen[at], "back at {at} early");
            seen[at] = true;
            at = chain[at] as usize;
        }
        assert_eq!(at, 0);
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn reads_its_childrens_cpu_once_they_are_waited_for() {
        let before = super::waited_children_cpu_time("self").unwrap();
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let after = super::waited_children_cpu_time("self").unwrap();
        assert!(after > before, "{before:?} → {after:?}");
        let me = i32::try_from(std::process::id()).unwrap();
        let parent = i32::try_from(std::os::unix::process::parent_id()).unwrap();
        assert_eq!(super::parent(me), Some(parent));
    }

    #[test]
    fn reads_its_own_cpu_and_memory() {
        let _ = (0..2_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b));
        assert!(super::cpu_time("self").is_some());
        assert!(super::peak_rss_mib() > 0.0);
        assert!(super::peak_rss_mib() >= super::rss_mib() - 1.0);
    }
}
