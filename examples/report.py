#!/usr/bin/env python3
"""Report a backend link's capacity to the tunshape daemon, as a third-party driver would.

A driver that moves frames between a tun/tap device and its backend measures, every interval,
the bytes it handed to the backend and the time the backend was busy, and sends one JSON datagram
to the daemon's report socket (protocol: man 7 tunshape-report). A missing daemon is not an error.

    examples/report.py --dev tap0 --capacity 9600          # a modem that knows its rate
    examples/report.py --dev tap0 --bytes 1200 --busy-ms 900 --count 5

Standard library only (Python 3.7+).
"""
import argparse
import json
import socket
import sys
import time

MAX_REPORT = 4096


def report(sock, path, fields):
    data = json.dumps(fields, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_REPORT:
        raise ValueError("report is %d bytes; at most %d" % (len(data), MAX_REPORT))
    try:
        sock.sendto(data, path)
        return True
    except (FileNotFoundError, ConnectionRefusedError):
        return False  # no daemon listening: the driver goes on
    except PermissionError:
        return False  # this process may not report to this daemon
    except BlockingIOError:
        return False  # the daemon is not keeping up: drop this report


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--socket", default="/run/tunshape/report.sock")
    p.add_argument("--dev", required=True, help="the tun/tap device the driver serves")
    p.add_argument("--netns", help="its network namespace's name; without it, the daemon takes the namespace "
                   "this process runs in (an unnamed one too)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between reports")
    p.add_argument("--count", type=int, default=1, help="how many reports to send")
    p.add_argument("--bytes", type=int, default=0, help="bytes handed to the backend per interval")
    p.add_argument("--busy-ms", type=int, default=0, help="ms the backend was busy per interval")
    p.add_argument("--capacity", type=float, help="the link's capacity in bit/s, when the driver knows it "
                   "(any JSON number: 9600, 9600.0 and 9.6e3 are one value)")
    a = p.parse_args()

    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setblocking(False)
    delivered = 0
    for i in range(a.count):
        fields = {"v": 1, "dev": a.dev, "interval_ms": int(a.interval * 1000),
                  "tx_bytes": a.bytes, "busy_ms": a.busy_ms}
        if a.netns:
            fields["netns"] = a.netns
        if a.capacity is not None:
            fields["capacity_bps"] = a.capacity
        if report(s, a.socket, fields):
            delivered += 1
        if i + 1 < a.count:
            time.sleep(a.interval)
    print("%d of %d reports delivered to %s" % (delivered, a.count, a.socket), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
