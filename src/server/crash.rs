//! Crash reports: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT the server
//! writes a Redis-style bug report (the signal, the faulting address and a
//! stack trace of the crashing thread) to the log, then dies of the same
//! signal, so a core dump or the parent still sees the real cause.
//!
//! The handler only uses async-signal-safe calls (write, getpid, glibc's
//! backtrace_symbols_fd after a warm-up call at install time), since the
//! crash may have happened anywhere, even inside the allocator.

use std::sync::atomic::{AtomicBool, Ordering};

extern "C" {
    fn backtrace(buf: *mut *mut libc::c_void, size: libc::c_int) -> libc::c_int;
    fn backtrace_symbols_fd(buf: *const *mut libc::c_void, size: libc::c_int, fd: libc::c_int);
}

static ENABLED: AtomicBool = AtomicBool::new(true);

/// crash-log-enabled.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

fn write_fd(fd: i32, b: &[u8]) {
    let mut off = 0;
    while off < b.len() {
        let n = unsafe { libc::write(fd, b[off..].as_ptr() as *const libc::c_void, b.len() - off) };
        if n <= 0 {
            return;
        }
        off += n as usize;
    }
}

/// Formats an unsigned number into `buf` without allocating.
fn fmt_u64(mut v: u64, base: u64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        let d = (v % base) as u8;
        buf[i] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        v /= base;
        if v == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}

extern "C" fn on_crash(sig: libc::c_int, info: *mut libc::siginfo_t, _uctx: *mut libc::c_void) {
    if ENABLED.load(Ordering::Relaxed) {
        let fd = super::log::raw_fd();
        let mut nb = [0u8; 24];
        let pid = unsafe { libc::getpid() } as u64;
        write_fd(
            fd,
            b"\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n",
        );
        write_fd(fd, fmt_u64(pid, 10, &mut nb));
        write_fd(fd, b":M # Redis 7.0.15 crashed by signal: ");
        write_fd(fd, fmt_u64(sig as u64, 10, &mut nb));
        if !info.is_null() {
            let code = unsafe { (*info).si_code };
            write_fd(fd, b", si_code: ");
            write_fd(fd, fmt_u64(code as u64, 10, &mut nb));
            if matches!(
                sig,
                libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL
            ) {
                let addr = unsafe { (*info).si_addr() } as u64;
                write_fd(fd, b"\n");
                write_fd(fd, fmt_u64(pid, 10, &mut nb));
                write_fd(fd, b":M # Accessing address: 0x");
                write_fd(fd, fmt_u64(addr, 16, &mut nb));
            }
        }
        write_fd(fd, b"\n\n------ STACK TRACE ------\n\nBacktrace:\n");
        let mut frames = [std::ptr::null_mut::<libc::c_void>(); 100];
        unsafe {
            let n = backtrace(frames.as_mut_ptr(), frames.len() as libc::c_int);
            backtrace_symbols_fd(frames.as_ptr(), n, fd);
        }
        write_fd(fd, b"\n------ DUMPING CODE AROUND EIP ------\n(omitted)\n");
        write_fd(
            fd,
            b"\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n       Please report the crash by opening an issue on github:\n\n           http://github.com/redis/redis/issues\n\n",
        );
    }
    // Die of the same signal with its default action.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(sig, &act, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
    }
}

/// Installs the crash handlers (once, at start-up).
pub fn install() {
    // Warm up backtrace(): its first call may load libgcc and allocate.
    let mut frames = [std::ptr::null_mut::<libc::c_void>(); 4];
    unsafe {
        backtrace(frames.as_mut_ptr(), 4);
    }
    for sig in [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGABRT,
    ] {
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_crash as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_RESETHAND;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}
