# The sender, receiver and kernel sampler of bench/adapt-trace.sh; runs inside the test namespace.
# Usage: adapt-trace.py SECONDS TRACE DEV OUT
# Sends UDP at 3x the trace's mean through DEV, times each datagram from send to the backend's
# receiver (127.0.0.1:9100), and samples every 5 ms the root qdisc's sent packets and queue length,
# and the device's tx_packets and tx_dropped (tun counts a frame as sent when the pump reads it),
# over raw rtnetlink. From the samples it works out, for the packets accepted in each 5 ms, how long
# they waited in the qdisc (until the qdisc had sent everything queued when they came) and in the
# qdisc and tun's ring together (until the pump had read it): the queue is FIFO, so cumulative
# counts give each packet's wait to within the sampling step.
import bisect, os, socket, struct, sys, threading, time

secs, trace, dev, out = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ifindex = socket.if_nametoindex(dev)
nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
nl.bind((0, 0))
seq = [0]

def attrs(buf, off, end):
    while off + 4 <= end:
        ln, ty = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            break
        yield ty & 0x3FFF, off + 4, off + ln
        off += (ln + 3) & ~3

def request(ty, flags, body):
    seq[0] += 1
    nl.send(struct.pack("=IHHII", 16 + len(body), ty, flags, seq[0], 0) + body)
    msgs = []
    while True:
        data = nl.recv(1 << 16)
        off = 0
        while off < len(data):
            ln, mty = struct.unpack_from("=IH", data, off)
            if mty == 3 or mty == 2:      # NLMSG_DONE, NLMSG_ERROR
                return msgs
            msgs.append((mty, data[off:off + ln]))
            off += (ln + 3) & ~3
        if not flags & 0x300:
            return msgs

def sample():
    """(root qdisc sent packets, qdisc qlen, device tx_packets, device tx_dropped)"""
    sent = qlen = 0
    for mty, m in request(38, 0x301, struct.pack("=BxxxiIII", 0, 0, 0, 0, 0)):   # RTM_GETQDISC dump
        _, _, idx, handle, parent, _ = struct.unpack_from("=BxHiIII", m, 16)
        if idx != ifindex or parent != 0xFFFFFFFF:
            continue
        for ty, a, e in attrs(m, 36, len(m)):
            if ty == 7:                                                          # TCA_STATS2
                for sty, sa, se in attrs(m, a, e):
                    if sty == 1:                                                 # TCA_STATS_BASIC
                        sent = struct.unpack_from("=QI", m, sa)[1]
                    elif sty == 3:                                               # TCA_STATS_QUEUE
                        qlen = struct.unpack_from("=I", m, sa)[0]
    txp = txd = 0
    for mty, m in request(18, 1, struct.pack("=BxHiII", 0, 0, ifindex, 0, 0)):      # RTM_GETLINK
        for ty, a, e in attrs(m, 32, len(m)):
            if ty == 23:                                                         # IFLA_STATS64
                st = struct.unpack_from("=8Q", m, a)
                txp, txd = st[1], st[7]
    return sent, qlen, txp, txd

rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 9100)); rx.settimeout(0.5)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
waits, got = [], [0, 0]
samples = []
stop = False
def receive():
    while not stop:
        try:
            f = rx.recv(65536)
        except socket.timeout:
            continue
        if len(f) >= 28 + 16 and f[9] == 17:
            t = struct.unpack_from("!d", f, 28 + 8)[0]
            waits.append(time.time() - t); got[0] += 1; got[1] += len(f)
def sampler():
    nxt = time.monotonic()
    while not stop:
        samples.append((time.monotonic(),) + sample())
        nxt += 0.005
        time.sleep(max(0, nxt - time.monotonic()))
threads = [threading.Thread(target=receive), threading.Thread(target=sampler)]
for th in threads:
    th.start()
start = time.time(); sent = 0
payload = bytearray(1472)
# offer 3x the trace's mean rate: the link is saturated whenever it has capacity
ops = [int(l) for l in open(trace) if l.strip()]
mean_bps = len(ops) * 1500 * 8 / (ops[-1] / 1000)
pps = max(50, 3 * mean_bps / (1500 * 8))
while time.time() - start < secs:
    struct.pack_into("!qd", payload, 0, sent, time.time())
    tx.sendto(payload, ("198.18.0.2", 9))
    sent += 1
    time.sleep(max(0, start + sent / pps - time.time()))
time.sleep(2)
stop = True
for th in threads:
    th.join()

def pct95(xs):
    xs = sorted(xs)
    return xs[int(len(xs) * 0.95)] * 1000 if xs else float("nan")

def weighted_p95(pairs):
    """pairs of (wait s, packets): the wait below which 95 % of the packets stayed"""
    pairs = sorted(pairs)
    total = sum(w for _, w in pairs)
    acc = 0
    for wait, w in pairs:
        acc += w
        if acc >= 0.95 * total:
            return wait * 1000
    return float("nan")

def fifo_waits(arrived, left):
    """For each sample k: the packets that came in the step before it (arrived[k] - arrived[k-1],
    arrived being cumulative) leave once left[j] >= arrived[k]; their wait is t[j] - t[k]."""
    t = [s[0] for s in samples]
    out = []
    j = 0
    for k in range(1, len(samples)):
        n = arrived[k] - arrived[k - 1]
        if n <= 0:
            continue
        j = max(j, k)
        while j < len(samples) and left[j] < arrived[k]:
            j += 1
        if j == len(samples):
            break                      # still queued when sampling ended: not counted
        out.append((t[j] - t[k], n))
    return out

# the qdisc: in = sent + queued (drops inside the qdisc never leave, and are not in either);
# qdisc and ring: the same arrivals, out = tun's tx_packets + tx_dropped (read by the pump, or
# dropped at a full ring)
q_in = [s[1] + s[2] for s in samples]
q_out = [s[1] for s in samples]
ring_out = [s[3] + s[4] - samples[0][3] - samples[0][4] + samples[0][1] for s in samples]
qdisc = weighted_p95(fifo_waits(q_in, q_out))
both = weighted_p95(fifo_waits(q_in, ring_out))

period = ops[-1]
lo, hi = 1500, 1500 + secs * 1000   # the trace's capacity over the run (the pump started about 1.5 s before)
cap = sum(1 for k in range(int(hi // period) + 1) for o in ops if lo <= k * period + o < hi) * 1500
with open(out, "w") as f:
    f.write("%d %d %d %.1f %.1f %.1f %d\n" % (sent, got[0], got[1], qdisc, both, pct95(waits), cap))
