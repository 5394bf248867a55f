# The sender, receiver and kernel sampler of bench/adapt-trace.sh; runs inside the test namespace.
# Usage: adapt-trace.py SECONDS TRACE DEV OUT OFFERED_BPS [PUMP_LOG SERIES_JSON]
#        adapt-trace.py offer TRACE SECONDS                  (the rate that saturates the link: 1.25 x the
#                                                              trace's busiest 200 ms in the run's first
#                                                              SECONDS + 5 s)
#        adapt-trace.py utilisation PUMP_LOG TRACE SECONDS   (after a run: delivered / capacity)
# Sends 1500-byte UDP datagrams at OFFERED_BPS through DEV, times each datagram from send to the backend's
# receiver (127.0.0.1:9100), and samples every 5 ms the root qdisc's sent packets and queue length,
# and the device's tx_packets and tx_dropped (tun counts a frame as sent when the pump reads it),
# over raw rtnetlink. From the samples it works out, for the packets accepted in each 5 ms, how long
# they waited in the qdisc (until the qdisc had sent everything queued when they came) and in the
# qdisc and tun's ring together (until the pump had read it): the queue is FIFO, so cumulative
# counts give each packet's wait to within the sampling step.
# With PUMP_LOG and SERIES_JSON it also writes the run's timeline for a figure (bench/adapt-trace.sh
# draws it with tunshape's SVG writer): the trace's capacity, the shaping rate (the root tbf's, or the
# htb link class's), the root qdisc's backlog in bytes, the wait in the qdisc per sampling step and
# each datagram's wait from send to the receiver. The pump's clock is placed on the sampler's by
# reading its statistics as they are written: a line with t_ms read at time T puts the pump's start
# at or before T - t_ms.
import bisect, json, os, socket, struct, sys, threading, time

if sys.argv[1] == "offer":
    ops = [int(l) for l in open(sys.argv[2]) if l.strip()]
    span = min(ops[-1], (float(sys.argv[3]) + 5) * 1000)
    busiest = max(bisect.bisect_right(ops, a + 200) - bisect.bisect_right(ops, a) for a in range(0, int(span), 200))
    print(int(1.25 * busiest * 1500 * 8 / 0.2))
    sys.exit(0)

def opportunities(ops, a, b):
    """the trace's opportunities at ms in (a, b], the trace repeating"""
    period = ops[-1]
    n = 0
    for k in range(int(a // period), int(b // period) + 1):
        base = k * period
        n += bisect.bisect_right(ops, b - base) - bisect.bisect_right(ops, a - base)
    return n

if sys.argv[1] == "utilisation":
    # the pump's statistics (JSON lines, t_ms from the trace's start) against the trace itself: from
    # the first interval that carried anything, for SECONDS, bytes delivered over the bytes the
    # trace's opportunities in those same intervals could carry
    log, trace, secs = sys.argv[2], sys.argv[3], float(sys.argv[4])
    ops = [int(l) for l in open(trace) if l.strip()]
    got = cap = 0
    first = None
    for line in open(log):
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if first is None and r["tx_bytes"] > 0:
            first = r["t_ms"] - r["interval_ms"]
        if first is None or r["t_ms"] > first + secs * 1000:
            continue
        got += r["tx_bytes"]
        cap += 1500 * opportunities(ops, r["t_ms"] - r["interval_ms"], r["t_ms"])
    print("%.4f %d %d" % (got / cap if cap else float("nan"), got, cap))
    sys.exit(0)

secs, trace, dev, out, offered = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
pump_log = sys.argv[6] if len(sys.argv) > 7 else None
series_out = sys.argv[7] if len(sys.argv) > 7 else None
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

def ratespec(m, a, e, parms, rate64):
    """bytes/s from a TCA_OPTIONS nest whose PARMS struct starts with a tc_ratespec (rate at offset 8)"""
    rate = None
    for ty, oa, oe in attrs(m, a, e):
        if ty == parms and rate is None:
            rate = struct.unpack_from("=I", m, oa + 8)[0]
        elif ty == rate64:
            rate = struct.unpack_from("=Q", m, oa)[0]
    return rate

def link_class_rate():
    """the htb link class's (7474:1) rate in bytes/s, or None"""
    for mty, m in request(42, 0x301, struct.pack("=BxxxiIII", 0, ifindex, 0, 0, 0)):  # RTM_GETTCLASS dump
        _, _, idx, handle, parent, _ = struct.unpack_from("=BxHiIII", m, 16)
        if idx == ifindex and handle == 0x74740001:
            for ty, a, e in attrs(m, 36, len(m)):
                if ty == 2:                                                      # TCA_OPTIONS: HTB_PARMS, HTB_RATE64
                    return ratespec(m, a, e, 1, 6)
    return None

def sample(with_rate=False):
    """(root qdisc sent packets, qdisc qlen, device tx_packets, device tx_dropped, root qdisc drops,
    the leaves' drops or -1 without leaves, root qdisc backlog bytes, shaping rate bit/s or None;
    the rate only when asked)"""
    sent = qlen = drops = backlog = 0
    leaf = -1
    rate = None
    htb = False
    for mty, m in request(38, 0x301, struct.pack("=BxxxiIII", 0, 0, 0, 0, 0)):   # RTM_GETQDISC dump
        _, _, idx, handle, parent, _ = struct.unpack_from("=BxHiIII", m, 16)
        if idx != ifindex:
            continue
        kind = None
        for ty, a, e in attrs(m, 36, len(m)):
            if ty == 1:                                                          # TCA_KIND
                kind = m[a:e].split(b"\0")[0]
            elif ty == 2 and with_rate and parent == 0xFFFFFFFF and kind == b"tbf":   # TBF_PARMS, TBF_RATE64
                r = ratespec(m, a, e, 1, 4)
                rate = r * 8 if r is not None else None
            elif ty == 7:                                                        # TCA_STATS2
                for sty, sa, se in attrs(m, a, e):
                    if sty == 1 and parent == 0xFFFFFFFF:                        # TCA_STATS_BASIC
                        sent = struct.unpack_from("=QI", m, sa)[1]
                    elif sty == 3:                                               # TCA_STATS_QUEUE
                        q, bl, d = struct.unpack_from("=III", m, sa)
                        if parent == 0xFFFFFFFF:
                            qlen, drops, backlog = q, d, bl
                        else:
                            leaf = max(leaf, 0) + d
        if parent == 0xFFFFFFFF and kind == b"htb":
            htb = True
    if with_rate and htb:
        r = link_class_rate()
        rate = r * 8 if r is not None else None
    txp = txd = 0
    for mty, m in request(18, 1, struct.pack("=BxHiII", 0, 0, ifindex, 0, 0)):      # RTM_GETLINK
        for ty, a, e in attrs(m, 32, len(m)):
            if ty == 23:                                                         # IFLA_STATS64
                st = struct.unpack_from("=8Q", m, a)
                txp, txd = st[1], st[7]
    return sent, qlen, txp, txd, drops, leaf, backlog, rate

rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 9100)); rx.settimeout(0.5)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
waits, got = [], [0, 0]
packet_waits = []          # (send time on the sampler's clock, wait s) per datagram received
samples = []
pump_epoch = [None]        # the pump's start on the sampler's clock (time.monotonic)
clock_offset = time.time() - time.monotonic()
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
            packet_waits.append((t - clock_offset, waits[-1]))
def follow_pump(f):
    """reads the pump's new statistics lines: each puts its start at or before now - t_ms"""
    if f is None:
        return
    while True:
        line = f.readline()
        if not line.endswith("\n"):
            if line:
                f.seek(f.tell() - len(line.encode()))
            return
        if line.startswith("{") and '"t_ms"' in line:
            start = time.monotonic() - json.loads(line)["t_ms"] / 1000
            pump_epoch[0] = start if pump_epoch[0] is None else min(pump_epoch[0], start)
def sampler():
    nxt = time.monotonic()
    n = 0
    log = None
    if series_out:
        log = open(pump_log)
        log.seek(0, os.SEEK_END)     # lines already there were read late: only new ones place the clock
    while not stop:
        # the shaping rate every 50 ms: a class dump on each 5 ms sample would slow the sampler
        samples.append((time.monotonic(),) + sample(with_rate=series_out is not None and n % 10 == 0))
        follow_pump(log)
        n += 1
        nxt += 0.005
        time.sleep(max(0, nxt - time.monotonic()))
threads = [threading.Thread(target=receive), threading.Thread(target=sampler)]
for th in threads:
    th.start()
start = time.time(); sent = 0
payload = bytearray(1472)
# progress on stderr (the table is on stdout): a line rewritten in place on a terminal, else every 10 s
tty = sys.stderr.isatty()
label = os.environ.get("ROW_LABEL", "sending")
shown = -1
# more than the link's busiest 200 ms: saturated whenever it has capacity
pps = max(50, offered / (1500 * 8))
while time.time() - start < secs:
    struct.pack_into("!qd", payload, 0, sent, time.time())
    tx.sendto(payload, ("198.18.0.2", 9))
    sent += 1
    done = int(time.time() - start)
    if done != shown and (tty or done % 10 == 0):
        shown = done
        msg = "  %s: %d s of %d s, sent %d, received %d" % (label, done, secs, sent, got[0])
        sys.stderr.write(("\r\033[K" + msg) if tty else msg + "\n")
        sys.stderr.flush()
    time.sleep(max(0, start + sent / pps - time.time()))
if tty:
    sys.stderr.write("\r\033[K")
    sys.stderr.flush()
time.sleep(2)
stop = True
for th in threads:
    th.join()

def pct95(xs):
    xs = sorted(xs)
    return xs[int(len(xs) * 0.95)] * 1000 if xs else float("nan")

def weighted_p95(triples):
    """(wait s, packets, when) triples: the wait below which 95 % of the packets stayed"""
    pairs = sorted((w, n) for w, n, _ in triples)
    total = sum(w for _, w in pairs)
    acc = 0
    for wait, w in pairs:
        acc += w
        if acc >= 0.95 * total:
            return wait * 1000
    return float("nan")

def fifo_waits(arrived, left, entered=None, read=None):
    """For each sample k: the packets that came in the step before it (arrived[k] - arrived[k-1],
    arrived being cumulative) leave the qdisc once left[j] >= arrived[k]; their wait is t[j] - t[k].
    With entered and read (cumulative frames into tun's ring, and read from it by the pump), they
    then leave the ring once read[i] >= entered[j], and the wait runs to t[i]: a frame the full
    ring dropped never entered it, so it does not move the ones behind it on."""
    t = [s[0] for s in samples]
    out = []
    j = i = 0
    for k in range(1, len(samples)):
        n = arrived[k] - arrived[k - 1]
        if n <= 0:
            continue
        j = max(j, k)
        while j < len(samples) and left[j] < arrived[k]:
            j += 1
        if j == len(samples):
            break                      # still queued when sampling ended: not counted
        if entered is None:
            out.append((t[j] - t[k], n, t[k]))
            continue
        i = max(i, j)
        while i < len(samples) and read[i] < entered[j]:
            i += 1
        if i == len(samples):
            break
        # only those the ring took count: weigh by the share of what left the qdisc then that it took
        sent = left[j] - left[j - 1]
        took = entered[j] - entered[j - 1]
        share = 1.0 if sent <= 0 else min(1.0, max(0.0, took / sent))
        if share > 0:
            out.append((t[i] - t[k], n * share, t[k]))
    return out

# packets the daemon emptied from the queue (deleting the leaf): the root's drops less the leaves'
# own (tail drops; a new leaf counts from 0, so each leaf's last count is kept); without leaves
# (tbf, the default qdisc) every drop is a tail drop
flushed, kept, last = [], 0, 0
for s in samples:
    if s[6] < 0:
        flushed.append(0)
        continue
    if s[6] < last:
        kept += last
    last = s[6]
    flushed.append(max(0, s[5] - kept - s[6]))
# the qdisc: in = sent + queued + emptied (tail drops never enter, and are in none of these), out =
# sent + emptied (an emptied packet counts with the wait it had)
q_in = [s[1] + s[2] + f for s, f in zip(samples, flushed)]
q_out = [s[1] + f for s, f in zip(samples, flushed)]
# tun's ring, empty when sampling starts: in = what the qdisc sent less what the full ring dropped,
# out = what the pump read
ring_in = [s[1] - samples[0][1] - (s[4] - samples[0][4]) for s in samples]
ring_read = [s[3] - samples[0][3] for s in samples]
qdisc_waits = fifo_waits(q_in, q_out)
qdisc = weighted_p95(qdisc_waits)
both = weighted_p95(fifo_waits(q_in, q_out, ring_in, ring_read))

if series_out:
    t0 = samples[0][0]
    ops = [int(l) for l in open(trace) if l.strip()]
    capacity = []
    if pump_epoch[0] is not None:
        # the trace's capacity in 200 ms steps, on the sampler's clock
        step = 0.2
        t = 0.0
        end = samples[-1][0] - t0
        while t < end:
            a = (t0 + t - pump_epoch[0]) * 1000
            capacity.append([round(t, 3), 1500 * 8 * opportunities(ops, a, a + step * 1000) / step])
            t += step
    rate = [[round(s[0] - t0, 3), s[8]] for s in samples if s[8] is not None]
    backlog = [[round(s[0] - t0, 3), s[7]] for s in samples[::4]]
    qwait = [[round(when - t0, 3), round(w, 4)] for w, n, when in qdisc_waits]
    stride = max(1, len(packet_waits) // 6000)          # at most about 6000 dots
    pwait = [[round(ts - t0, 3), round(w, 4)] for ts, w in packet_waits[::stride]]
    # one "series seconds value" line each, read by io.tunshape.plot.TraceFigure
    with open(series_out, "w") as f:
        f.write("# packets_per_dot %d\n# clock_placed %s\n" % (stride, pump_epoch[0] is not None))
        for name, points in (("capacity", capacity), ("rate", rate), ("backlog", backlog),
                             ("qdisc_wait", qwait), ("packet_wait", pwait)):
            for t, v in points:
                f.write("%s %s %s\n" % (name, t, v))

with open(out, "w") as f:
    f.write("%d %d %d %.1f %.1f %.1f\n" % (sent, got[0], got[1], qdisc, both, pct95(waits)))
