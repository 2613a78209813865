//! `magpie-server`: started like `redis-server [config file] [--directive value ...]`.

use magpie::server::{log, Server, REDIS_VERSION};

#[global_allocator]
static GLOBAL: magpie::alloc::Counting = magpie::alloc::Counting;

fn usage() {
    eprintln!(
        "Usage: ./magpie-server [/path/to/redis.conf] [options] [-]
       ./magpie-server - (read config from stdin)
       ./magpie-server -v or --version
       ./magpie-server -h or --help

Examples:
       ./magpie-server (run the server with default conf)
       ./magpie-server /etc/redis/6379.conf
       ./magpie-server --port 7777
       ./magpie-server /etc/myredis.conf --loglevel verbose -
       ./magpie-server /etc/myredis.conf --loglevel verbose
"
    );
}

fn main() {
    GLOBAL.activate();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The writer child of BGSAVE / BGREWRITEAOF (see persistence::child).
    if args.first().map(|a| a.as_str()) == Some(magpie::persistence::child::CHILD_FLAG) {
        magpie::persistence::child::child_main(args.get(1).map(|s| s.as_str()).unwrap_or("rdb"));
    }
    if let Some(a) = args.first() {
        match a.as_str() {
            "-v" | "--version" => {
                println!(
                    "Redis server v={} sha=00000000:0 malloc=mimalloc bits=64 build=magpie-{}",
                    REDIS_VERSION,
                    env!("CARGO_PKG_VERSION")
                );
                return;
            }
            "-h" | "--help" => {
                usage();
                return;
            }
            _ => {}
        }
    }
    let cfg = match magpie::config::load_from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e);
            std::process::exit(1);
        }
    };
    // disable-thp (Redis's directive): the allocator asks the kernel for
    // transparent huge pages on its arenas, which makes resident memory
    // grow in 2 MiB steps; like Redis, opt the process out of THP.
    #[cfg(target_os = "linux")]
    if cfg.get_bool("disable-thp") {
        // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integer arguments.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    log::set_level(&cfg.get_str("loglevel"));
    magpie::server::crash::set_enabled(cfg.get_bool("crash-log-enabled"));
    magpie::server::crash::install();
    if let Err(e) = log::set_file(&cfg.get_str("logfile")) {
        eprintln!("Can't open the log file: {}", e);
        std::process::exit(1);
    }
    if cfg.get_bool("daemonize") {
        daemonize();
    }
    let pidfile = cfg.get_str("pidfile");
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    }
    let dir = cfg.get_str("dir");
    if !dir.is_empty() && std::env::set_current_dir(&dir).is_err() {
        eprintln!("Can't chdir to '{}'", dir);
        std::process::exit(1);
    }
    log::notice("oO0OoO0OoO0Oo Magpie (Redis-compatible) is starting oO0OoO0OoO0Oo");
    log::notice(&format!(
        "Redis version={}, bits=64, commit=00000000, modified=0, pid={}, just started",
        REDIS_VERSION,
        std::process::id()
    ));
    match cfg.config_file() {
        Some(p) => log::notice(&format!("Configuration loaded from {}", p.display())),
        None => log::warning("Warning: no config file specified, using the default config. In order to specify a config file use ./magpie-server /path/to/redis.conf"),
    }
    let port = cfg.get_i64("port");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let srv: &'static Server = Box::leak(Box::new(Server::new(cfg)));
    log::notice(&format!("Running mode=standalone, port={}.", port));
    // The "PID:" line is logged by Server::run once the port is bound
    // (test harnesses take it as "listening").
    // With one CPU a single-threaded scheduler avoids work-stealing overhead.
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads).enable_all();
        // Tasks woken by one poll run in the order their events arrived.
        // Tokio's LIFO slot runs the last one woken first, so of requests
        // sent one after another on different connections the later often
        // ran first (in a test sending SET on A, SET on B, then MGET on C,
        // the MGET missed a SET in ~1 of 3 rounds, ~1 in 25 without it).
        #[cfg(tokio_unstable)]
        b.disable_lifo_slot();
        b.build()
    }
    .expect("tokio runtime");
    let code = rt.block_on(srv.run());
    std::process::exit(code);
}

/// Detaches from the terminal like redis-server's `daemonize yes`.
fn daemonize() {
    unsafe {
        if libc::fork() != 0 {
            libc::_exit(0);
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}
