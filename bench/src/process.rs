//! Running the release binary as an operator would, and reading what it cost.

use std::ffi::OsString;
use std::io::{Read, Seek};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What one run of the binary cost.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// From just before the spawn to the reaping of the process.
    pub wall: Duration,
    /// The process's peak resident set (its high-water mark), in bytes.
    pub peak_rss: u64,
}

/// The host binary with an empty environment, so that no variable of the
/// machine running the benchmarks (a proxy, an opt-out, a cache directory)
/// changes what is measured. Its output is discarded: writing it to a
/// terminal would measure the terminal.
pub fn host_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Runs `command` to its end through `launcher` (the `kamaji-bench-launch`
/// binary of this crate). A run that fails is an error carrying its stderr: a
/// benchmark of a failing command would measure nothing.
///
/// Why a launcher: Linux folds the parent's peak resident set into a child's
/// `ru_maxrss` when the child execs, so a child of this harness, which holds
/// a 100k-TCP fleet in memory, would report the harness's peak. A child of
/// the small launcher reports its own.
pub fn run(launcher: &Path, command: &Command) -> Result<Exit, String> {
    let mut stderr = tempfile::tempfile().map_err(|e| e.to_string())?;
    let mut launch = Command::new(launcher);
    launch
        .arg(command.get_program())
        .args(command.get_args())
        // Every command measured here starts from an empty environment.
        .env_clear()
        .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null())
        .stderr(stderr.try_clone().map_err(|e| e.to_string())?);
    let output = launch
        .output()
        .map_err(|e| format!("cannot start {}: {e}", launcher.display()))?;
    let report = String::from_utf8_lossy(&output.stdout);
    match parse_report(&report) {
        Some((status, exit)) if status.success() => Ok(exit),
        outcome => {
            let mut text = String::new();
            let _ = stderr
                .rewind()
                .and_then(|()| stderr.read_to_string(&mut text));
            let status = outcome.map_or(output.status, |(status, _)| status);
            Err(format!("{command:?} failed ({status}): {}", text.trim()))
        }
    }
}

/// The launcher's work: runs the command on its command line with its stdout
/// discarded, and prints `<wait status> <wall ns> <peak RSS bytes>`.
pub fn launch(mut args: impl Iterator<Item = OsString>) -> ExitCode {
    let Some(program) = args.next() else {
        eprintln!("usage: kamaji-bench-launch PROGRAM [ARG]...");
        return ExitCode::FAILURE;
    };
    let mut command = Command::new(program);
    command.args(args).stdout(Stdio::null());
    match spawn_and_wait(&mut command) {
        Ok((status, exit)) => {
            println!(
                "{} {} {}",
                status.into_raw(),
                exit.wall.as_nanos(),
                exit.peak_rss
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kamaji-bench-launch: cannot run {command:?}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_report(report: &str) -> Option<(ExitStatus, Exit)> {
    let mut fields = report.split_whitespace();
    let status = ExitStatus::from_raw(fields.next()?.parse().ok()?);
    let wall = Duration::from_nanos(fields.next()?.parse().ok()?);
    let peak_rss = fields.next()?.parse().ok()?;
    Some((status, Exit { wall, peak_rss }))
}

/// Spawns `command`, waits for it, and reads its own resource usage.
fn spawn_and_wait(command: &mut Command) -> std::io::Result<(ExitStatus, Exit)> {
    let start = Instant::now();
    let child = command.spawn()?;
    let (status, usage) = wait4(child.id())?;
    let exit = Exit {
        wall: start.elapsed(),
        // Linux reports kilobytes.
        peak_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
    };
    Ok((status, exit))
}

/// Reaps the child and reads its own resource usage: `wait4` gives it per
/// process, where `getrusage(RUSAGE_CHILDREN)` keeps only the largest so far.
fn wait4(pid: u32) -> std::io::Result<(ExitStatus, libc::rusage)> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: rusage is plain old data, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// A memory figure of a running process from `/proc/<pid>/status`, in bytes:
/// `VmRSS` (resident now) or `VmHWM` (the peak so far).
pub fn memory_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| {
        line.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_reports_its_status_time_and_memory() {
        let (status, exit) = spawn_and_wait(&mut Command::new("true")).expect("true runs");
        assert!(status.success());
        assert!(exit.peak_rss > 0 && exit.wall > Duration::ZERO);
        let (status, _) =
            spawn_and_wait(Command::new("sh").args(["-c", "exit 3"])).expect("sh runs");
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn launcher_reports_round_trip() {
        let (status, exit) = parse_report("768 1500 4096\n").expect("a report");
        assert_eq!(status.code(), Some(3));
        assert_eq!(
            (exit.wall, exit.peak_rss),
            (Duration::from_nanos(1500), 4096)
        );
        assert!(parse_report("").is_none());
    }

    #[test]
    fn this_process_has_a_resident_set_and_a_peak() {
        let me = std::process::id();
        let now = memory_status(me, "VmRSS").expect("VmRSS");
        let peak = memory_status(me, "VmHWM").expect("VmHWM");
        assert!(now > 0 && peak >= now);
        assert_eq!(memory_status(me, "Vm"), None);
    }
}
