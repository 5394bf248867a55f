#!/usr/bin/env python3
"""A tun driver that asks for the kernel's flow control (IFF_BACKPRESSURE, Linux 7.3+) when the
kernel offers it, and reads frames at a fixed pace, as a slow link would take them. Standard
library only.

    tun_reader.py DEV BITS_PER_SECOND SECONDS [off]

Creates DEV (or attaches to it, when it exists and is persistent), reads for SECONDS, and prints how
many frames it read. "off" leaves the flag off even where it is offered, to compare.
"""
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA        # _IOW('T', 202, int)
TUNGETFEATURES = 0x800454CF   # _IOR('T', 207, unsigned int)
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
IFF_BACKPRESSURE = 0x0080     # include/uapi/linux/if_tun.h from Linux 7.3

if len(sys.argv) not in (4, 5):
    sys.exit("usage: tun_reader.py DEV BITS_PER_SECOND SECONDS [off]")
dev, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)

try:
    features = struct.unpack("I", fcntl.ioctl(fd, TUNGETFEATURES, struct.pack("I", 0)))[0]
except OSError:               # before 2.6.27: no features at all
    features = 0
flags = IFF_TUN | IFF_NO_PI
if not features & IFF_BACKPRESSURE:
    print(f"tun-reader: kernel flow control off: IFF_BACKPRESSURE not offered "
          f"(TUNGETFEATURES 0x{features:04x}; Linux 7.3+ has it); going on without it")
elif sys.argv[4:] == ["off"]:
    print(f"tun-reader: kernel flow control off: offered (TUNGETFEATURES 0x{features:04x}), not asked for")
else:
    flags |= IFF_BACKPRESSURE
    print(f"tun-reader: kernel flow control on: IFF_BACKPRESSURE (TUNGETFEATURES 0x{features:04x})")
# struct ifreq: char ifr_name[16]; short ifr_flags; the union's rest (40 bytes in all on 64-bit)
ifr = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", dev.encode(), flags))
name = ifr[:16].rstrip(b"\0").decode()
print(f"tun-reader: {name} attached with flags 0x{flags:04x}, reading at {rate:.0f} bit/s "
      f"for {seconds:.0f} s", flush=True)

frames = size = 0
start = time.monotonic()
free_at = start
poller = select.poll()
poller.register(fd, select.POLLIN)
end = start + seconds
while True:
    t = time.monotonic()
    if free_at > t:            # the "link" is still sending the last frame
        if free_at >= end:
            break
        time.sleep(free_at - t)
        continue
    if t >= end:
        break
    if not poller.poll((end - t) * 1000 + 1):
        continue
    n = len(os.read(fd, 65536))
    frames += 1
    size += n
    free_at = time.monotonic() + n * 8 / rate
print(f"tun-reader: read {frames} frames, {size} bytes in {time.monotonic() - start:.1f} s")
os.close(fd)
