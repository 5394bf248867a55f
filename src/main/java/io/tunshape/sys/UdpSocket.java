package io.tunshape.sys;

import com.sun.jna.LastErrorException;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A connected UDP socket with the kernel's segmentation offloads, which the JDK does not expose:
 * {@link #send(long[], int[], int, int, int)} hands a run of datagrams over in one sendmsg(2) with
 * UDP_SEGMENT (generic segmentation offload: one trip through the stack for the whole run, cut
 * into datagrams as late as possible, on the wire as ordinary datagrams), and with UDP_GRO on the
 * receiving side the kernel hands over runs that arrived together as one buffer plus their
 * segment size. Both are optional: without them every datagram travels alone. Connected, so an
 * ICMP error from the peer (nobody listening) comes back as ECONNREFUSED on a later call.
 */
public final class UdpSocket implements AutoCloseable {
    /** The most datagrams one segmented send may carry (the kernel's UDP_MAX_SEGMENTS). */
    public static final int MAX_SEGMENTS = 64;
    /** The most payload one segmented send may carry (IPv4's limit; IPv6's is larger). */
    public static final int MAX_GSO_BYTES = 65_507;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SOCK_DGRAM = 2;
    private static final int SOL_UDP = 17;
    private static final int UDP_SEGMENT = 103;
    private static final int UDP_GRO = 104;
    private static final int IPPROTO_IP = 0;
    private static final int IP_MTU = 14;
    private static final int IPPROTO_IPV6 = 41;
    private static final int IPV6_MTU = 24;
    private static final int CMSG_HDR = 16;
    private static final int SO_REUSEADDR = 2;

    private final Fd fd;
    private final boolean v6;
    private final int headers;
    private boolean gso;
    private boolean gro;
    private int mtu;
    // sending and receiving may run on two threads: each has its own message header
    private final ByteBuffer msghdr = direct(56);
    private final ByteBuffer iovs = direct(16 * MAX_SEGMENTS);
    private final ByteBuffer recvMsghdr = direct(56);
    private final ByteBuffer recvIov = direct(16);
    private final long recvIovAddr = Sys.address(recvIov);
    private final long recvMsghdrAddr = Sys.address(recvMsghdr);
    private final ByteBuffer sendControl = direct(CMSG_HDR + 8);
    private final ByteBuffer recvControl = direct(64);
    private final long iovsAddr = Sys.address(iovs);
    private final long sendControlAddr = Sys.address(sendControl);
    private final long recvControlAddr = Sys.address(recvControl);
    private int lastSegment;

    private UdpSocket(Fd fd, boolean v6) {
        this.fd = fd;
        this.v6 = v6;
        this.headers = (v6 ? 40 : 20) + 8;
    }

    /**
     * Binds to {@code local}, connects to {@code peer} and turns on what offloads the kernel has.
     * The socket's family is the peer's; a wildcard local address follows it.
     */
    public static UdpSocket open(InetSocketAddress local, InetSocketAddress peer) {
        if (peer.isUnresolved()) {
            throw new IllegalArgumentException("cannot resolve " + peer.getHostString());
        }
        boolean v6 = peer.getAddress() instanceof Inet6Address;
        InetAddress la = local.getAddress();
        if (la != null && !la.isAnyLocalAddress() && (la instanceof Inet6Address) != v6) {
            throw new IllegalArgumentException("the local address " + la.getHostAddress() + " and the peer "
                    + peer.getAddress().getHostAddress() + " are of different IP versions");
        }
        Fd fd = Sys.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | Sys.SOCK_CLOEXEC, 0);
        UdpSocket s = new UdpSocket(fd, v6);
        try {
            Sys.setsockopt(fd, Sys.SOL_SOCKET, SO_REUSEADDR, 1);
            Sys.setsockopt(fd, Sys.SOL_SOCKET, Sys.SO_SNDBUF, 1 << 21);
            Sys.setsockopt(fd, Sys.SOL_SOCKET, Sys.SO_RCVBUF, 1 << 21);
            s.setReceiveTimeout(RECEIVE_TIMEOUT_MS);
            Sys.bind(fd, sockaddr(la == null || la.isAnyLocalAddress() ? null : la, local.getPort(), v6));
            Sys.connect(fd, sockaddr(peer.getAddress(), peer.getPort(), v6));
            s.gro = trySetsockopt(fd, SOL_UDP, UDP_GRO, 1);
            s.mtu = s.pathMtu();
            s.gso = s.mtu > 0;
            return s;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** How long {@link #receiveWaiting} waits at most (SO_RCVTIMEO), so that its caller can notice a stop. */
    public static final int RECEIVE_TIMEOUT_MS = 100;
    private static final int SO_RCVTIMEO = 20;

    private void setReceiveTimeout(int ms) {
        // struct timeval: seconds, microseconds
        ByteBuffer tv = direct(16).putLong(0, ms / 1000).putLong(8, (ms % 1000) * 1000L);
        Sys.setsockopt(fd, Sys.SOL_SOCKET, SO_RCVTIMEO, tv);
    }

    /** The route's MTU toward the peer (IP_MTU on a connected socket), or -1 when the kernel will not say. */
    private int pathMtu() {
        try {
            return Sys.getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MTU : IP_MTU);
        } catch (NativeException e) {
            return -1;
        }
    }

    private static boolean trySetsockopt(Fd fd, int level, int name, int value) {
        try {
            Sys.setsockopt(fd, level, name, value);
            return true;
        } catch (NativeException e) {
            return false;
        }
    }

    /** sockaddr_in or sockaddr_in6; {@code addr} null = the wildcard. */
    static ByteBuffer sockaddr(InetAddress addr, int port, boolean v6) {
        ByteBuffer b = ByteBuffer.allocateDirect(v6 ? 28 : 16).order(ByteOrder.nativeOrder());
        b.putShort((short) (v6 ? AF_INET6 : AF_INET));
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) port).order(ByteOrder.nativeOrder());
        if (v6) {
            b.putInt(0); // flow info
            b.put(addr == null ? new byte[16] : addr.getAddress());
            b.putInt(addr instanceof Inet6Address a6 ? a6.getScopeId() : 0);
        } else {
            b.put(addr == null ? new byte[4] : ((Inet4Address) addr).getAddress());
            b.put(new byte[8]);
        }
        return b.flip();
    }

    private static ByteBuffer direct(int n) {
        return ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder());
    }

    /** Whether runs of equal datagrams go out in one segmented send. */
    public boolean segmentsOnSend() {
        return gso;
    }

    /** Whether the kernel may hand over several datagrams as one buffer (see {@link #lastSegmentSize()}). */
    public boolean coalescesOnReceive() {
        return gro;
    }

    /**
     * The largest datagram a segmented send may carry: the path MTU less the IP and UDP headers
     * (larger datagrams are sent alone and fragmented by the kernel as usual).
     */
    public int maxSegment() {
        return mtu - headers;
    }

    /**
     * Sends {@code count} datagrams from index {@code from}, each {@code lens[i]} bytes at native
     * address {@code addrs[i]}.
     * With {@code segment} > 0 they go in one segmented send: all but the last must be exactly
     * {@code segment} bytes and the last no longer; otherwise one datagram per call. Falls back
     * for good to unsegmented sends if the route refuses segmentation (EIO: no checksum offload).
     */
    public void send(long[] addrs, int[] lens, int from, int count, int segment) {
        if (segment > 0 && gso && count > 1) {
            for (int i = 0; i < count; i++) {
                iovs.putLong(16 * i, addrs[from + i]).putLong(16 * i + 8, lens[from + i]);
            }
            sendControl.putLong(0, CMSG_HDR + 2).putInt(8, SOL_UDP).putInt(12, UDP_SEGMENT)
                    .putShort(16, (short) segment);
            msghdr.putLong(0, 0).putLong(8, 0).putLong(16, iovsAddr).putLong(24, count)
                    .putLong(32, sendControlAddr).putLong(40, CMSG_HDR + 8).putLong(48, 0);
            int n = fd.acquire();
            try {
                LibC.sendmsg(n, msghdr, 0);
                return;
            } catch (LastErrorException e) {
                int err = e.getErrorCode();
                if (err != Errno.EIO && err != Errno.EINVAL) {
                    throw new NativeException("sendmsg", err);
                }
                // EIO: this route cannot segment (no checksum offload), from now on one datagram per
                // call; EINVAL: the path MTU shrank under the run, so learn it again
                int now = err == Errno.EINVAL ? pathMtu() : -1;
                gso = now > 0 && now != mtu;
                mtu = now > 0 ? now : mtu;
            } finally {
                fd.release();
            }
        }
        for (int i = from; i < from + count; i++) {
            sendOne(addrs[i], lens[i]);
        }
    }

    /** Sends one datagram of {@code len} bytes at native address {@code addr}. */
    public void sendOne(long addr, int len) {
        while (Sys.write(fd, addr, len) < 0) {
            // a blocking socket: only EINTR gets here, and the datagram was not sent
        }
    }

    /**
     * Receives into native memory at {@code addr} (up to {@code capacity} bytes) without waiting;
     * returns the byte count, or -1 when nothing is there. When the kernel coalesced datagrams,
     * {@link #lastSegmentSize()} says where to cut (0: one datagram).
     */
    public int receive(long addr, int capacity) {
        return receive(addr, capacity, Sys.MSG_DONTWAIT);
    }

    /**
     * As {@link #receive(long, int)}, but waits for a datagram, at most {@link #RECEIVE_TIMEOUT_MS}
     * (-1 then): one system call where a poll and a second receive would be two, on every wake-up.
     */
    public int receiveWaiting(long addr, int capacity) {
        return receive(addr, capacity, 0);
    }

    private int receive(long addr, int capacity, int flags) {
        recvIov.putLong(0, addr).putLong(8, capacity);
        recvMsghdr.putLong(0, 0).putLong(8, 0).putLong(16, recvIovAddr).putLong(24, 1)
                .putLong(32, recvControlAddr).putLong(40, recvControl.capacity()).putLong(48, 0);
        int n = fd.acquire();
        long r;
        try {
            r = Sys.orAgain("recvmsg", LibC.recvmsg(n, recvMsghdrAddr, flags));
        } finally {
            fd.release();
        }
        if (r < 0) {
            return -1;
        }
        lastSegment = 0;
        long controlLen = recvMsghdr.getLong(40);
        if (controlLen >= CMSG_HDR + 4 && recvControl.getInt(8) == SOL_UDP && recvControl.getInt(12) == UDP_GRO) {
            lastSegment = recvControl.getInt(16);
        }
        return (int) r;
    }

    public int lastSegmentSize() {
        return lastSegment;
    }

    /** Waits up to {@code timeoutMs} for a datagram; true when one is there. */
    public boolean await(int timeoutMs) {
        return (Sys.poll(fd, Sys.POLLIN, timeoutMs) & (Sys.POLLIN | Sys.POLLERR)) != 0;
    }

    @Override
    public void close() {
        fd.close();
    }
}
