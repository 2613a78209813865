#!/usr/bin/env python3
"""Side-by-side resident memory of Magpie and redis-server for the data
sets of the data-type issue: 100k hashes of 10 small fields, 100k sets of 10
small integers, one 1M-member sorted set, one 1M-entry stream.

    python3 scripts/memory_compare.py [--only hashes,sets,zset,stream] target/release/magpie-server [/usr/bin/redis-server]

Each data set is loaded into a fresh server of each kind (loopback, free
port, pipelined, bounded), and RSS growth is read from /proc/PID/status.
"""
import os, socket, subprocess, sys, tempfile, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

def run_batches(sock, cmds, batch=2000):
    buf = b""
    for i in range(0, len(cmds), batch):
        chunk = cmds[i:i + batch]
        sock.sendall(b"".join(chunk))
        need = len(chunk)
        while need > 0:
            data = sock.recv(1 << 20)
            if not data:
                raise RuntimeError("server closed")
            buf += data
            # Replies here are all single-line (+OK, :n, $len id): count CRLF-terminated frames.
            while need > 0:
                if buf.startswith(b"$"):
                    nl = buf.find(b"\r\n")
                    if nl < 0: break
                    ln = int(buf[1:nl]); end = nl + 2 + ln + 2
                    if len(buf) < end: break
                    buf = buf[end:]
                else:
                    nl = buf.find(b"\r\n")
                    if nl < 0: break
                    buf = buf[nl + 2:]
                need -= 1

DATASETS = {
    "100k hashes x 10 fields": lambda: [enc("HSET", f"h:{i}", *sum(([f"f{j}", f"v{j}"] for j in range(10)), [])) for i in range(100_000)],
    "100k sets x 10 ints": lambda: [enc("SADD", f"s:{i}", *[str(j * 7 + i % 5) for j in range(10)]) for i in range(100_000)],
    "1M-member sorted set": lambda: [enc("ZADD", "z", *sum(([str(i + j), f"member:{i + j}"] for j in range(100)), [])) for i in range(0, 1_000_000, 100)],
    "1M-entry stream": lambda: [enc("XADD", "st", "*", "field", "value") for _ in range(1_000_000)],
}

def measure(binary, name, make):
    port = free_port()
    d = tempfile.mkdtemp()
    p = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=60); break
            except OSError:
                if time.time() > deadline: raise
                time.sleep(0.05)
        time.sleep(0.2)
        before = rss_kb(p.pid)
        run_batches(s, make())
        time.sleep(0.5)
        after = rss_kb(p.pid)
        return (after - before) / 1024.0
    finally:
        p.terminate()
        try: p.wait(5)
        except subprocess.TimeoutExpired: p.kill()

SHORT = {"hashes": "100k hashes x 10 fields", "sets": "100k sets x 10 ints",
         "zset": "1M-member sorted set", "stream": "1M-entry stream"}

def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = [SHORT[x] for x in args[i + 1].split(",")]
        del args[i:i + 2]
    cand = args[0]
    ref = args[1] if len(args) > 1 else "/usr/bin/redis-server"
    print(f"| data set | magpie MiB | redis MiB | ratio |")
    print(f"|---|--:|--:|--:|")
    for name, make in DATASETS.items():
        if only is not None and name not in only:
            continue
        m = measure(cand, name, make)
        r = measure(ref, name, make)
        print(f"| {name} | {m:.1f} | {r:.1f} | {m / r:.2f} |", flush=True)

if __name__ == "__main__":
    main()
