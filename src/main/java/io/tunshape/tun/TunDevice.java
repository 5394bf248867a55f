package io.tunshape.tun;

import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Opens a tun or tap device through /dev/net/tun, non-blocking. The device belongs to the network
 * namespace of the thread that opens /dev/net/tun (fixed at open, not at TUNSETIFF).
 *
 * <p>A tun device may be opened with offloads ({@link #openWithOffloads}): every frame read or
 * written then starts with a struct virtio_net_hdr ({@link VnetHeader}), and the kernel may hand
 * over TCP super-frames of up to 64 KB (TSO) and packets whose checksum is left to the reader
 * (checksum offload), and accepts super-frames written back. {@link Segmenter} and {@link Coalescer}
 * turn them into plain IP packets and back.
 *
 * <p>Where the kernel offers it (Linux 7.3), a device may be opened with {@link #IFF_BACKPRESSURE}:
 * with a real qdisc on the device, a full ring then stops the device's queue instead of dropping,
 * and the reader's consumption wakes it, so the qdisc holds what the reader cannot take yet. It is
 * a feature flag of the attachment: whoever attaches with TUNSETIFF next sets or clears it.
 */
public final class TunDevice implements AutoCloseable {
    public static final long TUNSETIFF = 0x400454CAL;
    static final long TUNGETFEATURES = 0x800454CFL;
    static final long TUNSETOFFLOAD = 0x400454D0L;
    static final long TUNGETIFF = 0x800454D2L;
    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    /** Kernel flow control (Linux 7.3): a full ring stops the device's queue instead of dropping. */
    public static final int IFF_BACKPRESSURE = 0x0080;
    static final int IFF_PERSIST = 0x0800;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;
    /** TUNSETOFFLOAD bits: the reader completes checksums; TCP over IPv4 and IPv6 may come as super-frames. */
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    /**
     * TUNSETOFFLOAD bits for UDP segmentation (Linux 6.2, with VIRTIO_NET_HDR_GSO_UDP_L4 in the
     * vnet header): only asked for to learn whether the kernel takes runs of UDP datagrams as one frame.
     */
    static final int TUN_F_USO4 = 0x20;
    static final int TUN_F_USO6 = 0x40;
    private static final int IFNAMSIZ = 16;

    private final Fd fd;
    private final String name;
    /** The IFF_* flags the kernel holds for this attachment (TUNGETIFF), as tun_flags in sysfs shows them. */
    private final int flags;
    private final int offloads;
    /** Whether the kernel takes a run of UDP datagrams written as one GSO_UDP_L4 frame (Linux 6.2). */
    private final boolean udpRuns;

    private TunDevice(Fd fd, String name, int flags, int offloads, boolean udpRuns) {
        this.fd = fd;
        this.name = name;
        this.flags = flags;
        this.offloads = offloads;
        this.udpRuns = udpRuns;
    }

    /** Attaches to (or creates) the device {@code name}, without the packet-information header. */
    public static TunDevice open(String name, boolean tap) {
        return open(name, tap, false, false);
    }

    /**
     * As {@link #open(String, boolean)}, with {@link #IFF_BACKPRESSURE} asked for when {@code
     * backpressure}: ask only where {@link #features()} offers it (a kernel that does not know the
     * flag ignores it). {@link #backpressure()} says whether the kernel holds it.
     */
    public static TunDevice open(String name, boolean tap, boolean backpressure) {
        return open(name, tap, false, backpressure);
    }

    /**
     * The IFF_* flags this kernel's TUNSETIFF takes (TUNGETFEATURES): 0x7173 on 6.1 to 6.18, with
     * {@link #IFF_BACKPRESSURE} (0x71f3) from 7.3; 0 when /dev/net/tun cannot be asked.
     */
    public static int features() {
        try (Fd probe = Sys.open("/dev/net/tun", Sys.O_RDWR | Sys.O_CLOEXEC)) {
            byte[] f = new byte[4];
            Sys.ioctl(probe, TUNGETFEATURES, f);
            return ByteBuffer.wrap(f).order(ByteOrder.nativeOrder()).getInt();
        } catch (NativeException e) {
            return 0;
        }
    }

    /**
     * A tun device with checksum and TCP segmentation offloads where the kernel offers them: opened
     * with IFF_VNET_HDR when TUNGETFEATURES lists it, then TUNSETOFFLOAD with CSUM|TSO4|TSO6, or
     * CSUM alone, or nothing when the kernel refuses. {@code log} hears once what was refused.
     * Without IFF_VNET_HDR the device is opened plainly ({@link #vnetHeader()} false). Whether the
     * kernel takes runs of UDP datagrams ({@link #udpRuns()}) is learnt on the way: TUNSETOFFLOAD
     * with TUN_F_USO4|USO6 added, refused (EINVAL) before Linux 6.2, and then set without them (the
     * reader does not cut UDP super-frames).
     */
    public static TunDevice openWithOffloads(String name, boolean backpressure,
                                             java.util.function.Consumer<String> log) {
        if ((features() & IFF_VNET_HDR) == 0) {
            log.accept("tun offloads: the kernel does not offer IFF_VNET_HDR; frames come one by one");
            return open(name, false, false, backpressure);
        }
        TunDevice d = open(name, false, true, backpressure);
        int want = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        boolean uso = offered(d.fd, want | TUN_F_USO4 | TUN_F_USO6);
        for (int offer : new int[] {want, TUN_F_CSUM, 0}) {
            try {
                Sys.ioctl(d.fd, TUNSETOFFLOAD, offer);
                if (offer != want) {
                    log.accept("tun offloads: the kernel refused TSO" + (offer == 0 ? " and checksum offload" : "")
                            + "; TCP comes one segment a frame");
                }
                return new TunDevice(d.fd, d.name, d.flags, offer, uso && offer != 0);
            } catch (NativeException e) {
                if (e.errno() != Errno.EINVAL) {
                    d.close();
                    throw e;
                }
            }
        }
        return d;
    }

    /** Whether TUNSETOFFLOAD takes {@code offloads} (EINVAL: bits this kernel does not know); a probe. */
    private static boolean offered(Fd fd, int offloads) {
        try {
            Sys.ioctl(fd, TUNSETOFFLOAD, offloads);
            return true;
        } catch (NativeException e) {
            return false; // EINVAL; anything else the TUNSETOFFLOAD that follows reports
        }
    }

    private static TunDevice open(String name, boolean tap, boolean vnet, boolean backpressure) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        if (n.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name '" + name + "' is longer than 15 bytes");
        }
        // non-blocking: readers poll, then read until EAGAIN, one syscall per frame
        Fd fd = Sys.open("/dev/net/tun", Sys.O_RDWR | Sys.O_CLOEXEC | Sys.O_NONBLOCK);
        try {
            byte[] ifr = new byte[40];
            System.arraycopy(n, 0, ifr, 0, n.length);
            int flags = (tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0)
                    | (backpressure ? IFF_BACKPRESSURE : 0);
            ifr[16] = (byte) flags;
            ifr[17] = (byte) (flags >> 8);
            Sys.ioctl(fd, TUNSETIFF, ifr);
            int end = 0;
            while (end < IFNAMSIZ && ifr[end] != 0) {
                end++;
            }
            return new TunDevice(fd, new String(ifr, 0, end, StandardCharsets.UTF_8), heldFlags(fd, flags), 0, false);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** What the kernel kept of {@code asked} (TUNGETIFF; without IFF_PERSIST); {@code asked} if it cannot say. */
    private static int heldFlags(Fd fd, int asked) {
        byte[] ifr = new byte[40];
        try {
            Sys.ioctl(fd, TUNGETIFF, ifr);
        } catch (NativeException e) {
            return asked;
        }
        return (Byte.toUnsignedInt(ifr[16]) | Byte.toUnsignedInt(ifr[17]) << 8) & ~IFF_PERSIST;
    }

    public String name() {
        return name;
    }

    /** The IFF_* flags the kernel holds for this attachment (as the device's tun_flags in sysfs, less IFF_PERSIST). */
    public int flags() {
        return flags;
    }

    /** Whether kernel flow control ({@link #IFF_BACKPRESSURE}) is on for this attachment. */
    public boolean backpressure() {
        return (flags & IFF_BACKPRESSURE) != 0;
    }

    public Fd fd() {
        return fd;
    }

    /** Whether every frame read and written starts with a struct virtio_net_hdr ({@link VnetHeader#LEN} bytes). */
    public boolean vnetHeader() {
        return (flags & IFF_VNET_HDR) != 0;
    }

    /** The TUN_F_* offloads in force. */
    public int offloads() {
        return offloads;
    }

    /**
     * Whether a run of UDP datagrams may be written as one VIRTIO_NET_HDR_GSO_UDP_L4 frame: on a
     * device with offloads where the kernel knows UDP segmentation offload (Linux 6.2 and later).
     */
    public boolean udpRuns() {
        return udpRuns;
    }

    /** {@link #await}: a frame is waiting. */
    public static final int READABLE = 1;
    /** {@link #await}: the device went away (deleted): every read and write fails from now on. */
    public static final int HANGUP = -1;
    /** {@link #write}: the frames went to the device. */
    public static final int WRITTEN = 0;
    /** {@link #write}: tun's socket buffer is full (EAGAIN); the frames are dropped, as tun drops. */
    public static final int FULL = 1;
    /** {@link #write}: not a frame the device takes (EINVAL, e.g. not IP on tun); dropped. */
    public static final int REFUSED = 2;
    /** {@link #write}: the device is down (EIO: tun refuses writes until it is up again); dropped. */
    public static final int DOWN = 3;

    /**
     * Reads one frame (with its virtio_net_hdr on a device with offloads) into native memory at
     * {@code addr}, up to {@code len} bytes: its length, or -1 when tun's ring is empty. Throws
     * {@link NativeException} when the device is gone.
     */
    public int read(long addr, int len) {
        return Sys.read(fd, addr, len);
    }

    /** Waits up to {@code timeoutMs} for a frame: {@link #READABLE}, 0 (none came) or {@link #HANGUP}. */
    public int await(int timeoutMs) {
        int ev = Sys.poll(fd, Sys.POLLIN, timeoutMs);
        return (ev & (Sys.POLLERR | Sys.POLLHUP)) != 0 ? HANGUP : (ev & Sys.POLLIN) != 0 ? READABLE : 0;
    }

    /**
     * Writes one frame of {@code len} bytes at native address {@code addr}: {@link #WRITTEN},
     * {@link #FULL}, {@link #REFUSED} or {@link #DOWN}; throws {@link NativeException} when the device
     * is gone.
     */
    public int write(long addr, int len) {
        try {
            return Sys.write(fd, addr, len) < 0 ? FULL : WRITTEN;
        } catch (NativeException e) {
            return writeFailure(e);
        }
    }

    /** One frame gathered from {@code count} struct iovec at native address {@code iov}: as {@link #write}. */
    public int writev(long iov, int count) {
        try {
            return Sys.writev(fd, iov, count) < 0 ? FULL : WRITTEN;
        } catch (NativeException e) {
            return writeFailure(e);
        }
    }

    private static int writeFailure(NativeException e) {
        if (e.errno() == Errno.EINVAL) {
            return REFUSED;
        }
        if (e.errno() == Errno.EIO) {
            return DOWN;
        }
        throw e;
    }

    /** "checksum, TSO (IPv4, IPv6)" or "none", for logs. */
    public String describeOffloads() {
        if (offloads == 0) {
            return "none";
        }
        StringBuilder b = new StringBuilder("checksum");
        if ((offloads & (TUN_F_TSO4 | TUN_F_TSO6)) != 0) {
            b.append(", TSO (").append((offloads & TUN_F_TSO4) != 0 ? "IPv4" : "")
                    .append((offloads & TUN_F_TSO4) != 0 && (offloads & TUN_F_TSO6) != 0 ? ", " : "")
                    .append((offloads & TUN_F_TSO6) != 0 ? "IPv6" : "").append(')');
        }
        return b.toString();
    }

    @Override
    public void close() {
        if (offloads != 0) {
            // a persistent device keeps its features: the next reader may not expect super-frames
            try {
                Sys.ioctl(fd, TUNSETOFFLOAD, 0);
            } catch (NativeException e) {
                // closed or gone: nothing is left to reset
            }
        }
        fd.close();
    }
}
