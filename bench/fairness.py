#!/usr/bin/env python3
"""One fairness run inside a network namespace (bench/fairness.sh starts it with `ip netns exec`).

A stand-in backend reads tun device t0 at RATE bytes/s (plus 2 %: a shaper is set a little below
its link); three bulk UDP senders with default socket buffers send 1000-byte datagrams back to back
(blocking when their buffer is full) and one sparse flow sends 100-byte datagrams every SPARSE_MS,
all for SECONDS, to 198.18.0.2 through t0. Prints one JSON line: the sparse flow's waits (p50, p95,
delivered of sent), the bulk flows' delivered shares in the middle of the run and Jain's index,
bulk datagrams sent and delivered, and the drops (qdisc, tun).
"""
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
rate, seconds, sparse_ms = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
# "probe": find source ports whose flows land in different flow queues before the run
probe = len(sys.argv) > 4 and sys.argv[4] == "probe"
PEER = "198.18.0.2"

fd = os.open("/dev/net/tun", os.O_RDWR)
# FAIRNESS_BACKPRESSURE=1 (bench/flow-control.sh): the reader sets IFF_BACKPRESSURE (Linux 7.3) where
# TUNGETFEATURES offers it, as the pump does by default; elsewhere it reads as before
TUNGETFEATURES, IFF_BACKPRESSURE = 0x800454CF, 0x0080
features = struct.unpack("I", fcntl.ioctl(fd, TUNGETFEATURES, struct.pack("I", 0)))[0]
backpressure = os.environ.get("FAIRNESS_BACKPRESSURE") == "1" and bool(features & IFF_BACKPRESSURE)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", b"t0", IFF_TUN | IFF_NO_PI | (IFF_BACKPRESSURE if backpressure else 0)))
with open("/sys/class/net/t0/tun_flags") as _f:
    tun_flags = _f.read().strip()
arrivals = []  # (monotonic ns, ip length, flow, sent ns)


def reader(until):
    """The stand-in backend, in a process of its own at real-time priority: the measurement is the
    qdisc's, not this reader's (on a loaded machine a normal-priority reader falls behind the qdisc,
    and what then waits in tun's ring would be counted as the qdisc's wait)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except OSError:
        pass
    budget_rate = rate * 1.02
    next_free = time.monotonic_ns()
    while time.monotonic_ns() < until:
        wait = next_free - time.monotonic_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        b = os.read(fd, 65536)
        now = time.monotonic_ns()
        # credit for up to 50 ms of oversleeping: the average stays at the rate
        next_free = max(next_free, now - 50_000_000) + int(len(b) * 1e9 / budget_rate)
        if len(b) >= 44 and b[0] >> 4 == 4 and b[9] == 17:
            ihl = (b[0] & 15) * 4
            flow, seq, sent = struct.unpack_from("!IIQ", b, ihl + 8)
            arrivals.append((now, len(b), flow, sent))


def payload(size, flow, seq):
    return struct.pack("!IIQ", flow, seq, time.monotonic_ns()).ljust(size, b"\0")


sent = {1: 0, 2: 0, 3: 0, 4: 0}


def class_packets():
    """packets sent by each htb class, from `tc -s class show` (tc 6.1 prints no JSON for htb classes)"""
    out = subprocess.run(["tc", "-s", "class", "show", "dev", "t0"], capture_output=True, text=True).stdout
    counts, cls = {}, None
    for line in out.splitlines():
        w = line.split()
        if w[:2] == ["class", "htb"]:
            cls = w[2]
        elif w[:1] == ["Sent"] and cls:
            counts[cls] = int(w[3])
    return counts


def queue_of(s):
    before = class_packets()
    s.sendto(b"\xff" * 16, (PEER, 9))
    for _ in range(40):
        after = class_packets()
        moved = [c for c in after if c != "7474:1" and after[c] > before.get(c, 0)]
        if moved:
            return moved[0]
        time.sleep(0.025)
    return None


socks, taken = [], set()
for port in range(41000, 41100):
    if len(socks) == 4:
        break
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.0.1", port))
    q = queue_of(s) if probe else port
    if q is not None and q not in taken:
        taken.add(q)
        socks.append(s)
    else:
        s.close()


if probe:
    # the probes' datagrams pass and their queues repay what they borrowed for them (a 44-byte probe
    # puts a queue 0.6 s in debt at 9600 bit/s over 16 queues), and tun's ring, which nobody reads
    # until the run starts, is read empty: the run starts from an idle tree, as a flow that did not
    # just send a probe finds it. Without this the sparse flow's first datagrams waited behind its
    # own probe's debt and the probes themselves, and the delay carried over to the next ones.
    time.sleep(max(0.2, 4 * 1500 / rate))
    while select.select([fd], [], [], 0)[0]:
        os.read(fd, 65536)


def bulk(flow, deadline):
    s = socks[flow - 1]
    i = 0
    while time.monotonic_ns() < deadline and i < 10_000_000:
        try:
            s.sendto(payload(1000, flow, i), (PEER, 9))
            sent[flow] += 1
        except OSError:
            pass
        i += 1
    s.close()


t0 = time.monotonic_ns()
deadline = t0 + int(seconds * 1e9)
# after the senders stop, time for the sparse flow's last datagram (a few frame times, bounded)
grace = min(30.0, max(1.0, 4 * 1500 / rate))
out_r, out_w = os.pipe()
child = os.fork()
if child == 0:
    os.close(out_r)
    reader(deadline + int(grace * 1e9))
    with os.fdopen(out_w, "w") as w:
        json.dump(arrivals, w)
    os._exit(0)
os.close(out_w)
threads = [threading.Thread(target=bulk, args=(f, deadline), daemon=True) for f in (1, 2, 3)]
for th in threads:
    th.start()
sp = socks[3]
i = 0
while time.monotonic_ns() < deadline - sparse_ms * 1_000_000:
    sp.sendto(payload(100, 4, i), (PEER, 9))
    sent[4] += 1
    i += 1
    time.sleep(sparse_ms / 1000)
for th in threads:
    th.join(timeout=seconds + 30)
with os.fdopen(out_r) as r:
    arrivals = [tuple(a) for a in json.load(r)]
os.waitpid(child, 0)


def tc_drops():
    out = json.loads(subprocess.run(["tc", "-s", "-j", "qdisc", "show", "dev", "t0"], capture_output=True,
                                    text=True).stdout or "[]")
    # the root's count covers its children (htb, tbf); a default root counts its own
    roots = [q for q in out if q.get("root")]
    return sum(q.get("drops", 0) for q in roots)


def tun_dropped():
    with open("/sys/class/net/t0/statistics/tx_dropped") as f:
        return int(f.read())


waits = sorted((a[0] - a[3]) / 1e6 for a in arrivals if a[2] == 4)


def pct(v, p):
    if not v:
        return None
    return v[min(len(v) - 1, max(0, int(-(-p * len(v) // 100)) - 1))]


lo, hi = t0 + int(seconds * 0.2 * 1e9), deadline
shares = []
for f in (1, 2, 3):
    shares.append(sum(a[1] for a in arrivals if a[2] == f and lo <= a[0] < hi) * 8 / ((hi - lo) / 1e9))
jain = (sum(shares) ** 2 / (3 * sum(x * x for x in shares))) if sum(shares) > 0 else None
delivered = {f: sum(1 for a in arrivals if a[2] == f) for f in (1, 2, 3, 4)}
print(json.dumps({
    "sparse_sent": sent[4], "sparse_delivered": delivered[4],
    "sparse_p50_ms": pct(waits, 50), "sparse_p95_ms": pct(waits, 95),
    "bulk_sent": sum(sent[f] for f in (1, 2, 3)), "bulk_delivered": sum(delivered[f] for f in (1, 2, 3)),
    "bulk_bps": [round(x) for x in shares], "jain": jain, "queues": sorted(taken) if probe else None,
    "qdisc_drops": tc_drops(), "tun_dropped": tun_dropped(), "tun_flags": tun_flags}))
