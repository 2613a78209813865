#!/usr/bin/env python3
"""Peak memory during BGSAVE under a write load, Magpie vs redis-server.

    python3 scripts/bgsave_memory.py target/release/magpie-server [/usr/bin/redis-server]

Loads 1M keys (16-byte values) with redis-benchmark, starts BGSAVE while
redis-benchmark overwrites keys, and samples the proportional set size
(Pss, so pages shared after Redis's fork are not counted twice) of the
server and of any child process until the save finishes. Bounded: 60 s.
"""
import os, socket, subprocess, sys, tempfile, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def children(pid):
    """Child processes of pid, spawned from any of its threads."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out

def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=30).stdout

def measure(binary):
    port = free_port(); d = tempfile.mkdtemp()
    p = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if cli(port, "ping").strip() == "PONG": break
            time.sleep(0.05)
        subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", "1000000", "-r", "1000000", "-d", "16", "-P", "32", "-q"],
                       capture_output=True, timeout=120)
        base = pss_kb(p.pid)
        load = subprocess.Popen(["redis-benchmark", "-p", str(port), "-t", "set", "-n", "3000000", "-r", "1000000", "-d", "16", "-P", "16", "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        cli(port, "bgsave")
        peak = base; t0 = time.time()
        while time.time() - t0 < 60:
            total = pss_kb(p.pid) + sum(pss_kb(c) for c in children(p.pid))
            peak = max(peak, total)
            if "rdb_bgsave_in_progress:0" in cli(port, "info", "persistence") and time.time() - t0 > 0.2:
                break
            time.sleep(0.02)
        load.kill(); load.wait()
        return base / 1024, peak / 1024
    finally:
        p.terminate(); p.wait(10)

cand = sys.argv[1]; ref = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/redis-server"
for name, b in (("magpie", cand), ("redis", ref)):
    base, peak = measure(b)
    print(f"{name}: before BGSAVE {base:.0f} MiB, peak during BGSAVE {peak:.0f} MiB (+{100 * (peak - base) / base:.0f}%)", flush=True)
