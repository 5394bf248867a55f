#!/usr/bin/env python3
"""A UDP sender for the kernel suite's kernel-flow-control checks: default socket buffers,
1000-byte datagrams to 198.18.0.2:9 for SECONDS (bounded), blocking sends. Prints, as one JSON line
at the end, how many it sent, the longest single send, and the monotonic times of its sends (every
send that blocked longer than 50 ms, and one in 20 of the others), so the caller can see when it was held and
when it was let go.  usage: kfc-sender.py SECONDS"""
import json, socket, sys, time
seconds = float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + seconds
sent, longest, marks, blocked = 0, 0.0, [], []
payload = b"k" * 1000
while time.monotonic() < end and sent < 2_000_000:
    t = time.monotonic()
    s.sendto(payload, ("198.18.0.2", 9))
    d = time.monotonic() - t
    sent += 1
    longest = max(longest, d)
    if d > 0.05 and len(blocked) < 100_000:
        blocked.append([round(t, 3), round(d, 3)])
    elif sent % 20 == 0:
        marks.append([round(t, 3), round(d, 3)])
# every send that blocked is kept; of the others, the last 2000 marks (a freed sender sends fast)
print(json.dumps({"sent": sent, "longest_send_s": round(longest, 3), "marks": blocked + marks[-2000:]}))
