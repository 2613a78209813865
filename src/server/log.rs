//! Redis-style log lines: `pid:M 26 Nov 2026 02:07:19.123 * message`,
//! filtered by `loglevel` and written to `logfile` (stdout when empty).

use parking_lot::Mutex;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

pub const DEBUG: u8 = 0;
pub const VERBOSE: u8 = 1;
pub const NOTICE: u8 = 2;
pub const WARNING: u8 = 3;

static LEVEL: AtomicU8 = AtomicU8::new(NOTICE);
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);
/// The log's file descriptor, for the crash handler (which can't lock).
static FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

/// The descriptor the log writes to (1 for stdout).
pub fn raw_fd() -> i32 {
    FD.load(Ordering::Relaxed)
}

pub fn set_level(name: &str) {
    let l = match name {
        "debug" => DEBUG,
        "verbose" => VERBOSE,
        "warning" => WARNING,
        "nothing" => 255,
        _ => NOTICE,
    };
    LEVEL.store(l, Ordering::Relaxed);
}

/// Directs the log to a file (append); an empty path means stdout.
pub fn set_file(path: &str) -> std::io::Result<()> {
    let mut f = FILE.lock();
    FD.store(1, Ordering::Relaxed);
    *f = if path.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )
    };
    if let Some(file) = f.as_ref() {
        use std::os::fd::AsRawFd;
        FD.store(file.as_raw_fd(), Ordering::Relaxed);
    }
    Ok(())
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let ms = now.subsec_millis();
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t = secs as libc::time_t;
    unsafe { libc::localtime_r(&t, &mut tm) };
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MON[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ms
    )
}

pub fn log(level: u8, msg: &str) {
    if level < LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let mark = ['.', '-', '*', '#'][level.min(3) as usize];
    let line = format!(
        "{}:M {} {} {}\n",
        std::process::id(),
        timestamp(),
        mark,
        msg
    );
    let mut f = FILE.lock();
    match f.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(line.as_bytes());
            let _ = o.flush();
        }
    }
}

pub fn notice(msg: &str) {
    log(NOTICE, msg)
}
pub fn warning(msg: &str) {
    log(WARNING, msg)
}
pub fn verbose(msg: &str) {
    log(VERBOSE, msg)
}
