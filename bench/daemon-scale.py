#!/usr/bin/env python3
"""Creates one tap device per namespace (or COUNT in one) and times each from its creation to the
daemon's qdisc on it, from the kernel's own events: per namespace a route socket subscribed to tc
events is opened inside it (setns there and back) before the tap is made there (TUNSETIFF +
TUNSETPERSIST), and the RTM_NEWQDISC whose handle is tunshape's tbf (7473:) marks it shaped.
Usage: daemon-scale.py DEV RATE_PER_S TIMEOUT_S NSPATH... [--count N]  (N taps DEV0..DEVn-1 in the one NSPATH)
Prints one JSON object: per-device latencies in ms (p50, p99, max), all-shaped time, unshaped count."""
import ctypes, fcntl, json, os, select, socket, struct, sys, time

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
TUNSETIFF, TUNSETPERSIST = 0x400454CA, 0x400454CB
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
RTM_NEWQDISC = 36
TBF_HANDLE = 0x74730000


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def main():
    args = sys.argv[1:]
    count = 1
    if "--count" in args:
        i = args.index("--count")
        count = int(args[i + 1])
        del args[i:i + 2]
    dev, rate, timeout, paths = args[0], float(args[1]), float(args[2]), args[3:]
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    ep = select.epoll()
    socks = {}
    made = {}      # (sock fileno, ifindex) -> creation time
    shaped = {}
    t_start = time.monotonic()
    n = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        setns(fd)
        os.close(fd)
        try:
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            s.bind((0, 8))  # RTMGRP_TC
            s.setblocking(False)
            socks[s.fileno()] = s
            ep.register(s.fileno(), select.EPOLLIN)
            for k in range(count):
                name = dev if count == 1 else "%s%d" % (dev, k)
                # paced: creation at RATE per second, as an emulator brings its nodes up
                due = t_start + n / rate
                while time.monotonic() < due:
                    drain(ep, socks, made, shaped, max(0, due - time.monotonic()))
                tun = os.open("/dev/net/tun", os.O_RDWR)
                fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
                fcntl.ioctl(tun, TUNSETPERSIST, 1)
                os.close(tun)
                made[(s.fileno(), socket.if_nametoindex(name))] = time.monotonic()
                n += 1
        finally:
            setns(home)
    t_made = time.monotonic()
    end = t_made + timeout
    while len(shaped) < len(made) and time.monotonic() < end:
        drain(ep, socks, made, shaped, 0.1)
    lat = sorted((shaped[k] - made[k]) * 1000 for k in shaped)

    def q(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
    print(json.dumps({"devices": len(made), "shaped": len(shaped), "unshaped": len(made) - len(shaped),
                      "created_in_s": round(t_made - t_start, 2),
                      "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": round(lat[-1], 1) if lat else None,
                      "all_shaped_after_first_s": round(max(shaped.values()) - t_start, 2) if shaped else None}))


def drain(ep, socks, made, shaped, wait):
    for fd, _ in ep.poll(wait):
        s = socks[fd]
        while True:
            try:
                data = s.recv(1 << 16)
            except BlockingIOError:
                break
            now = time.monotonic()
            p = 0
            while p + 16 <= len(data):
                length, typ = struct.unpack_from("IH", data, p)
                if length < 16:
                    break
                if typ == RTM_NEWQDISC and p + 36 <= len(data):
                    ifindex, handle, parent = struct.unpack_from("iII", data, p + 20)
                    key = (fd, ifindex)
                    if handle == TBF_HANDLE and key in made and key not in shaped:
                        shaped[key] = now
                p += (length + 3) & ~3


if __name__ == "__main__":
    main()
