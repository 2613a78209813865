//! The writer child of BGSAVE and of the AOF rewrite.
//!
//! Magpie snapshots without fork (see `snapshot.rs`): the point-in-time
//! cut and the serialization stay in the server process. The file itself
//! is written by a small child process, a fresh exec of this binary with
//! `--magpie-save-child <kind>` (spawned, never forked, so it shares no
//! pages with the server and costs no copy-on-write): it creates
//! `temp-<its pid>.rdb` (or `temp-rewriteaof-bg-<its pid>.aof`) in the
//! server directory, copies its stdin into it, fsyncs it and answers `OK`.
//! The server then renames the file into place.
//!
//! This keeps Redis's process model where tools and operators rely on it:
//! the save runs "in a child" that can be found (`pgrep -P`) and killed,
//! killing it fails the save cleanly (the temp file is removed, INFO says
//! `err`), and temp files carry the child's pid.

use parking_lot::Mutex;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// The argument that turns this binary into a writer child.
pub const CHILD_FLAG: &str = "--magpie-save-child";

/// Children spawned since start (INFO `total_forks`).
pub static TOTAL: AtomicU64 = AtomicU64::new(0);
/// Microseconds the last spawn took (INFO `latest_fork_usec`).
pub static LATEST_USEC: AtomicU64 = AtomicU64::new(0);

/// Live children and their temp files, so a shutdown can remove them.
static LIVE: Mutex<Vec<(u32, PathBuf)>> = parking_lot::const_mutex(Vec::new());

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Rdb,
    AofRewrite,
}

impl Kind {
    fn arg(self) -> &'static str {
        match self {
            Kind::Rdb => "rdb",
            Kind::AofRewrite => "aofrw",
        }
    }

    /// The temp file a child with this pid writes (relative to the server dir).
    pub fn temp_name(self, pid: u32) -> PathBuf {
        match self {
            Kind::Rdb => PathBuf::from(format!("temp-{}.rdb", pid)),
            Kind::AofRewrite => PathBuf::from(format!("temp-rewriteaof-bg-{}.aof", pid)),
        }
    }
}

/// Entry point of the child process (called from `main` before anything
/// else). Never returns.
pub fn child_main(kind: &str) -> ! {
    // Die with the server: a save nobody waits for is pointless.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() == 1 {
            libc::_exit(1);
        }
    }
    let kind = if kind == "aofrw" {
        Kind::AofRewrite
    } else {
        Kind::Rdb
    };
    let tmp = kind.temp_name(std::process::id());
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            f.write_all(&buf[..n])?;
        }
        f.sync_all()?;
        Ok(())
    })();
    let mut out = std::io::stdout().lock();
    match res {
        Ok(()) => {
            let _ = out.write_all(b"OK\n");
            let _ = out.flush();
            std::process::exit(0);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            let _ = writeln!(out, "ERR {}", e);
            let _ = out.flush();
            std::process::exit(1);
        }
    }
}

/// The server's handle on a writer child.
pub struct SaveChild {
    pub pid: u32,
    pub kind: Kind,
    child: Child,
    stdin: Option<std::io::BufWriter<ChildStdin>>,
}

impl SaveChild {
    pub fn spawn(kind: Kind) -> Result<SaveChild, String> {
        let t0 = std::time::Instant::now();
        let exe = if std::path::Path::new("/proc/self/exe").exists() {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe().map_err(|e| format!("Can't find the server binary: {}", e))?
        };
        let mut child = Command::new(exe)
            .arg(CHILD_FLAG)
            .arg(kind.arg())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("Can't save in background: fork: {}", e))?;
        LATEST_USEC.store(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        TOTAL.fetch_add(1, Ordering::Relaxed);
        let pid = child.id();
        let stdin = child
            .stdin
            .take()
            .map(|s| std::io::BufWriter::with_capacity(1 << 16, s));
        LIVE.lock().push((pid, kind.temp_name(pid)));
        Ok(SaveChild {
            pid,
            kind,
            child,
            stdin,
        })
    }

    pub fn temp_path(&self) -> PathBuf {
        self.kind.temp_name(self.pid)
    }

    /// Err if the child is gone (killed, or failed).
    pub fn check(&mut self) -> std::io::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(st)) => Err(std::io::Error::other(describe(st))),
            Err(e) => Err(e),
        }
    }

    /// Closes the stream and waits for the child's fsync. On success the
    /// complete temp file is returned, ready to be renamed into place.
    pub fn finish(mut self) -> Result<PathBuf, String> {
        let flushed = match self.stdin.take() {
            Some(mut w) => w.flush().map_err(|e| e.to_string()),
            None => Ok(()),
        };
        let mut answer = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut answer);
        }
        let status = self.child.wait();
        let tmp = self.temp_path();
        unregister(self.pid);
        let res = match status {
            Ok(st) if st.success() && answer.starts_with("OK") && flushed.is_ok() => {
                Ok(tmp.clone())
            }
            Ok(st) if !st.success() => Err(match answer.strip_prefix("ERR ") {
                Some(m) => format!("Write error saving DB on disk: {}", m.trim()),
                None => describe(st),
            }),
            Ok(_) => Err(format!(
                "Write error saving DB on disk: {:?}",
                flushed.err()
            )),
            Err(e) => Err(e.to_string()),
        };
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        res
    }

    /// Stops the child and removes its temp file.
    pub fn kill(mut self) {
        self.stdin.take();
        unsafe {
            libc::kill(self.pid as i32, libc::SIGUSR1);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.temp_path());
        unregister(self.pid);
    }
}

impl Write for SaveChild {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self.stdin.as_mut() {
            Some(w) => w.write(b),
            None => Err(std::io::Error::other("closed")),
        }
    }

    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(w) => w.write_all(b),
            None => Err(std::io::Error::other("closed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

fn unregister(pid: u32) {
    LIVE.lock().retain(|(p, _)| *p != pid);
}

fn describe(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match st.signal() {
        Some(sig) => format!("Background saving terminated by signal {}", sig),
        None => format!(
            "Background saving error (child exited with {})",
            st.code().unwrap_or(-1)
        ),
    }
}

/// At shutdown: stop every writer child and remove its temp file.
pub fn kill_all() {
    let live = std::mem::take(&mut *LIVE.lock());
    for (pid, tmp) in live {
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
        let _ = std::fs::remove_file(tmp);
    }
}

/// Pid of the running writer child, if any (for logs).
pub fn live_pids() -> Vec<u32> {
    LIVE.lock().iter().map(|(p, _)| *p).collect()
}
