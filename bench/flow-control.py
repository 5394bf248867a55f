#!/usr/bin/env python3
"""One sender of bench/flow-control.sh, inside its namespace (started with `ip netns exec`).

    flow-control.py send DEV SECONDS [MAX_DATAGRAMS]
        one UDP sender with default socket buffers sends 1000-byte datagrams back to back (blocking
        sends) to 198.18.0.2:9 through DEV for SECONDS (and at most MAX_DATAGRAMS, default 100000);
        prints one JSON line: datagrams sent, the longest send() and the sends that blocked 20 ms or
        more, and what DEV's reader took while it sent (tx_packets, tx_bytes, from 1 s in to the end:
        the goodput window) and tun's tx_dropped over the whole run.
    flow-control.py stall DEV SECONDS SENDERS
        SENDERS senders as above, each for at most SECONDS; prints per sender the longest send()
        and when (seconds from the start) it ended, so that the caller can tell whether a send
        blocked by a stopped reader returned; plus tx_packets and tx_dropped before and after.
"""
import json
import socket
import sys
import threading
import time

PEER = ("198.18.0.2", 9)


def stat(dev, name):
    with open(f"/sys/class/net/{dev}/statistics/{name}") as f:
        return int(f.read())


def sender(seconds, limit, out, t0=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(PEER)
    t0 = t0 or time.monotonic()
    deadline = t0 + seconds
    sent = blocked = 0
    longest = 0.0
    longest_at = 0.0
    payload = bytearray(1000)
    while time.monotonic() < deadline and sent < limit:
        payload[0:4] = sent.to_bytes(4, "big")
        a = time.monotonic()
        try:
            s.send(payload)
            sent += 1
        except OSError:
            pass
        d = time.monotonic() - a
        if d >= 0.02:
            blocked += 1
        if d > longest:
            longest, longest_at = d, a - t0
    s.close()
    out.update(sent=sent, blocked_sends=blocked, longest_send_ms=round(longest * 1000, 1),
               longest_send_began_s=round(longest_at, 2), ended_s=round(time.monotonic() - t0, 2))


def send(dev, seconds, limit):
    drop0 = stat(dev, "tx_dropped")
    r = {}
    th = threading.Thread(target=sender, args=(seconds, limit, r), daemon=True)
    t0 = time.monotonic()
    th.start()
    time.sleep(min(1.0, seconds / 4))
    w0, p0, b0 = time.monotonic(), stat(dev, "tx_packets"), stat(dev, "tx_bytes")
    th.join(seconds + 600)
    w1, p1, b1 = time.monotonic(), stat(dev, "tx_packets"), stat(dev, "tx_bytes")
    r.update(seconds=round(w1 - t0, 2), window_s=round(w1 - w0, 2), window_packets=p1 - p0,
             window_bits_per_s=round((b1 - b0) * 8 / (w1 - w0)), tun_dropped=stat(dev, "tx_dropped") - drop0)
    print(json.dumps(r))


def stall(dev, seconds, n):
    p0, d0 = stat(dev, "tx_packets"), stat(dev, "tx_dropped")
    t0 = time.monotonic()
    rs = [{} for _ in range(n)]
    ths = [threading.Thread(target=sender, args=(seconds, 100000, rs[i], t0), daemon=True) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(seconds + 600)
    print(json.dumps({"senders": rs, "tx_packets": stat(dev, "tx_packets") - p0,
                      "tun_dropped": stat(dev, "tx_dropped") - d0}))


if __name__ == "__main__":
    cmd, dev, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if cmd == "send":
        send(dev, secs, int(sys.argv[4]) if len(sys.argv) > 4 else 100000)
    elif cmd == "stall":
        stall(dev, secs, int(sys.argv[4]))
    else:
        sys.exit(f"flow-control.py: unknown command {cmd!r} (send or stall)")
