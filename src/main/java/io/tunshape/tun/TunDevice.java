package io.tunshape.tun;

import io.tunshape.sys.Fd;
import io.tunshape.sys.Sys;

import java.nio.charset.StandardCharsets;

/**
 * Opens a tun or tap device through /dev/net/tun, non-blocking. The device belongs to the network
 * namespace of the thread that opens /dev/net/tun (fixed at open, not at TUNSETIFF).
 */
public final class TunDevice implements AutoCloseable {
    public static final long TUNSETIFF = 0x400454CAL;
    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_NO_PI = 0x1000;
    private static final int IFNAMSIZ = 16;

    private final Fd fd;
    private final String name;

    private TunDevice(Fd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** Attaches to (or creates) the device {@code name}, without the packet-information header. */
    public static TunDevice open(String name, boolean tap) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        if (n.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name '" + name + "' is longer than 15 bytes");
        }
        // non-blocking: readers poll, then read until EAGAIN, one syscall per frame
        Fd fd = Sys.open("/dev/net/tun", Sys.O_RDWR | Sys.O_CLOEXEC | Sys.O_NONBLOCK);
        try {
            byte[] ifr = new byte[40];
            System.arraycopy(n, 0, ifr, 0, n.length);
            int flags = (tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
            ifr[16] = (byte) flags;
            ifr[17] = (byte) (flags >> 8);
            Sys.ioctl(fd, TUNSETIFF, ifr);
            int end = 0;
            while (end < IFNAMSIZ && ifr[end] != 0) {
                end++;
            }
            return new TunDevice(fd, new String(ifr, 0, end, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    public String name() {
        return name;
    }

    public Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }
}
