#!/usr/bin/env python3
"""The 'air' between two Direwolf modems in docs/examples/radio-direwolf.sh.

Reads a modem's transmitted audio (raw signed 16-bit mono samples, as ALSA's file plugin writes
them) from stdin and sends it to the other modem's UDP audio input in 10 ms datagrams, paced in
real time: ALSA's null device takes samples as fast as they come, so without this the 'radio'
would be faster than its bit rate. Standard library only.

    audio-link.py HOST PORT [RATE]
"""
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
rate = int(sys.argv[3]) if len(sys.argv) > 3 else 44100
chunk = rate // 100 * 2  # 10 ms of 16-bit mono samples
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
inp = sys.stdin.buffer
due = time.monotonic()
while True:
    data = inp.read(chunk)
    if not data:
        break
    now = time.monotonic()
    if due < now - 0.05:  # a new transmission after silence starts now, not in the past
        due = now
    if due > now:
        time.sleep(due - now)
    s.sendto(data, (host, port))
    due += len(data) / (2 * rate)
