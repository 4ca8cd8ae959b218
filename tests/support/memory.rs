//! The peak memory of a child process as the kernel counts it: `ru_maxrss`,
//! read when the child is reaped with wait4(2). Nothing samples it, so no
//! peak falls between two samples, and a process that ends at once is
//! measured as well as one that runs for minutes.
//!
//! One catch, Linux's: when a child execs, its `ru_maxrss` takes in the
//! peak of the memory it had until then. A child spawned by `Command` shares
//! this process's memory until its exec (vfork), so it is charged this
//! process's peak. [`spawn`] resets that peak to what this process holds
//! now, and [`Reaped::is_its_own`] tells whether the figure is above all
//! this process could have charged: then it is the child's own peak, exactly.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};

/// How a child ended, with its peak resident set.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    pub status: ExitStatus,
    /// `ru_maxrss`: KiB on Linux.
    pub peak_kib: u64,
    /// This process's own peak once the child was reaped: at least what it
    /// charged the child at its exec.
    pub parent_peak_kib: u64,
}

impl Reaped {
    /// Whether `peak_kib` is the child's own: above whatever this process
    /// charged it, it can be nothing else.
    pub fn is_its_own(&self) -> bool {
        self.peak_kib > self.parent_peak_kib
    }

    pub fn peak_mib(&self) -> u64 {
        self.peak_kib >> 10
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
    Some(Reaped {
        status: ExitStatus::from_raw(status),
        peak_kib: u64::try_from(usage.ru_maxrss).expect("a size"),
        parent_peak_kib: own_peak_kib(),
    })
}

/// This process's peak resident set (`VmHWM`), in KiB.
fn own_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in kB")
}
