#!/usr/bin/env python3
"""A bounded UDP burst for the guides' examples, and its receiver. Standard library only.

    udp-burst.py send HOST PORT COUNT SIZE   # COUNT datagrams of SIZE bytes, as fast as the socket takes
                                             # them (default send buffer), for at most 30 s
    udp-burst.py recv HOST PORT SECONDS      # counts datagrams until SECONDS of silence
"""
import socket
import sys
import time

if sys.argv[1] == "send":
    host, port, count, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * size
    start = time.monotonic()
    sent = 0
    while sent < count and time.monotonic() - start < 30:
        s.sendto(payload, (host, port))
        sent += 1
    took = time.monotonic() - start
    print(f"sent {sent} datagrams of {size} bytes in {took:.2f} s "
          f"({'the sender blocked' if took > 0.5 else 'never blocked'})")
else:
    host, port, quiet = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # room for the whole burst, so a busy machine does not drop at the receiver (root may force it)
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((host, port))
    s.settimeout(quiet)
    got = 0
    first = last = None
    while True:
        try:
            s.recv(65536)
        except socket.timeout:
            break
        got += 1
        last = time.monotonic()
        first = first or last
    rate = "" if got < 2 else f", {got / (last - first):.0f} datagrams/s"
    print(f"received {got} datagrams{rate}")
