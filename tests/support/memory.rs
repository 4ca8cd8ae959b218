//! The peak memory of a child process as the kernel counts it: `ru_maxrss`,
//! read when the child is reaped with wait4(2). Nothing samples it, so no
//! peak falls between two samples, and a process that ends at once is
//! measured as well as one that runs for minutes.
//!
//! One catch, Linux's: when a child execs, its `ru_maxrss` takes in the
//! peak of the memory it had until then. A child spawned by `Command` shares
//! this process's memory until its exec (vfork), so it is charged this
//! process's peak. [`spawn`] resets that peak to what this process holds
//! now, and [`Peak::is_its_own`] tells whether the figure is above all
//! this process could have charged: then it is the child's own peak, exactly.
//!
//! What a running process holds now is [`resident_kib`] (`VmRSS`).

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};

/// How a child ended, with its peak resident set.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    pub status: ExitStatus,
    pub peak: Peak,
}

/// A child's peak resident set, as wait4 gave it.
#[derive(Debug, Clone, Copy)]
pub struct Peak {
    /// `ru_maxrss`: KiB on Linux.
    pub kib: u64,
    /// This process's own peak once the child was reaped: at least what it
    /// charged the child at its exec.
    pub parent_kib: u64,
}

impl Peak {
    /// Whether `kib` is the child's own: above whatever this process
    /// charged it, it can be nothing else.
    pub fn is_its_own(&self) -> bool {
        self.kib > self.parent_kib
    }

    pub fn mib(&self) -> u64 {
        self.kib >> 10
    }
}

/// Spawns `command`, having first reset this process's peak to what it
/// holds now (`/proc/self/clear_refs`), so that the child is charged that,
/// not the largest this process ever held.
pub fn spawn(command: &mut Command) -> Child {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset this process's peak RSS");
    command.spawn().expect("spawn")
}

/// Waits for `child` to end and reads its usage. It takes the `Child`: a
/// reaped pid may be anyone's next, so nothing may signal it any more.
pub fn reap(child: Child) -> Reaped {
    wait4(&child, 0).expect("the child ends")
}

/// Reaps `child` if it has ended; `None` while it runs. Once it returns a
/// `Reaped`, `child` must be dropped unused, as [`reap`] makes sure.
pub fn try_reap(child: &Child) -> Option<Reaped> {
    wait4(child, libc::WNOHANG)
}

fn wait4(child: &Child, options: libc::c_int) -> Option<Reaped> {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status = 0;
    // SAFETY: rusage is plain old data, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types; the
        // pid is our own child's, not reaped yet (we hold its `Child`).
        let reaped = unsafe { libc::wait4(pid, &mut status, options, &mut usage) };
        match reaped {
            0 => return None,
            _ if reaped == pid => break,
            _ => {
                let error = std::io::Error::last_os_error();
                assert_eq!(
                    error.kind(),
                    std::io::ErrorKind::Interrupted,
                    "wait4({pid}): {error}"
                );
            }
        }
    }
    let peak = Peak {
        kib: u64::try_from(usage.ru_maxrss).expect("a size"),
        parent_kib: status_kib("self", "VmHWM"),
    };
    Some(Reaped {
        status: ExitStatus::from_raw(status),
        peak,
    })
}

/// What process `pid` holds resident now (`VmRSS`), in KiB.
pub fn resident_kib(pid: u32) -> u64 {
    status_kib(&pid.to_string(), "VmRSS")
}

/// A figure in kB of `/proc/<process>/status`.
fn status_kib(process: &str, field: &str) -> u64 {
    let path = format!("/proc/{process}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in kB in {path}"))
}
