//! What Linux's `/proc` says about a server process: its peak resident memory (`VmHWM`) and
//! the CPU time it has used, alone or with its direct children (nginx's workers).

/// A process to account, with or without its direct children.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Process {
    /// Its pid.
    pub(crate) pid: u32,
    /// Count its direct children too (nginx's master and workers).
    pub(crate) with_children: bool,
    /// Another process that serves with it, counted too (the Redis server of a shared
    /// cache: its work is part of every hit).
    pub(crate) helper: Option<u32>,
}

impl Process {
    /// Peak resident memory in KiB, if the process is there.
    pub(crate) fn peak_memory_kib(self) -> Option<u64> {
        self.pids().into_iter().map(peak_memory_kib).sum()
    }

    /// User and system CPU time used so far, in seconds.
    pub(crate) fn cpu_seconds(self) -> f64 {
        self.pids().into_iter().filter_map(cpu_seconds).sum()
    }

    fn pids(self) -> Vec<u32> {
        let mut pids = vec![self.pid];
        if self.with_children {
            pids.extend(children(self.pid));
        }
        pids.extend(self.helper);
        pids
    }
}

fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let fields = stat_fields(pid)?;
    // After "pid (comm)": state is field 3, utime 14, stime 15 (proc(5)).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((utime + stime) as f64 / ticks)
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| {
            stat_fields(child).and_then(|f| f.get(1)?.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

/// The fields of `/proc/PID/stat` after "pid (comm)", from the state on.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may hold spaces and parentheses: split after its last closing paren.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}
