package io.tunshape.pump;

import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;
import io.tunshape.sys.UdpSocket;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * One frame per datagram to a peer pump (two pumps make a virtual link). The socket is connected
 * to the peer, so an ICMP error (peer down) surfaces as an exception the pump reports and retries.
 * Opened on the pump's thread, so it belongs to the pump's network namespace.
 *
 * <p>Frames the pump read together go out together: a run of equal-sized frames (the last may be
 * shorter) is one sendmsg with UDP_SEGMENT, and the receiving pump asks for UDP_GRO, so the run
 * crosses the stack once on each side. On the wire, and to a peer that is not tunshape, they are
 * ordinary datagrams, one frame each.
 */
public final class UdpBackend implements Backend {
    private final InetSocketAddress peer;
    private final InetSocketAddress listen;
    /** How long after the first send since opening without an ICMP error the peer counts as there. */
    private static final long CONFIRM_NANOS = 200_000_000L;
    private static final int ECONNREFUSED = 111;
    private volatile UdpSocket socket;
    /** When the first datagram since opening went out (0: none yet). */
    private volatile long firstSend;
    /** The peer's port is closed (ICMP port unreachable), seen by either thread; said by the next send. */
    private volatile boolean refused;
    private volatile boolean heard;
    // receiving side (the pump's receive thread only): what the kernel handed over, cut in frames
    private final ByteBuffer rx = ByteBuffer.allocateDirect(UdpSocket.MAX_GSO_BYTES + 65_536);
    private final long rxAddr = Sys.address(rx);
    private int rxLength;
    private int rxOffset;
    private int rxSegment;

    public UdpBackend(InetSocketAddress peer, InetSocketAddress listen) {
        this.peer = peer;
        this.listen = listen;
    }

    @Override
    public synchronized void open() throws IOException {
        close();
        try {
            socket = UdpSocket.open(listen, peer);
            firstSend = 0;
            refused = false;
            heard = false;
        } catch (NativeException e) {
            throw new IOException(Errno.text(e.errno()) + " (" + e.call() + ")", e);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    private UdpSocket socket() throws IOException {
        UdpSocket s = socket;
        if (s == null) {
            throw new IOException("not open");
        }
        if (refused) {
            refused = false;
            throw refusedException(null);
        }
        if (firstSend == 0) {
            firstSend = System.nanoTime();
        }
        return s;
    }

    private static IOException refusedException(NativeException e) {
        return new IOException(Errno.text(ECONNREFUSED) + " (ICMP port unreachable: nothing listens there)", e);
    }

    private static IOException down(NativeException e) {
        return e.errno() == ECONNREFUSED ? refusedException(e) : new IOException(Errno.text(e.errno()), e);
    }

    @Override
    public boolean confirmed() {
        long first = firstSend;
        return !refused && (heard || first != 0 && System.nanoTime() - first >= CONFIRM_NANOS);
    }

    @Override
    public void send(ByteBuffer frame) throws IOException {
        UdpSocket s = socket();
        try {
            s.sendOne(Sys.address(frame) + frame.position(), frame.remaining());
        } catch (NativeException e) {
            throw down(e);
        }
        frame.position(frame.limit());
    }

    @Override
    public void send(Batch batch) throws IOException {
        UdpSocket s = socket();
        long[] addrs = batch.addresses();
        int[] lens = batch.lengths();
        int n = batch.count();
        int max = s.segmentsOnSend() ? s.maxSegment() : 0;
        try {
            int i = 0;
            while (i < n) {
                int seg = lens[i];
                int j = i + 1;
                if (seg <= max) {
                    // a run of frames of the run's first size; one shorter frame may end it
                    int bytes = seg;
                    while (j < n && j - i < UdpSocket.MAX_SEGMENTS && bytes + lens[j] <= UdpSocket.MAX_GSO_BYTES
                            && lens[j] <= seg) {
                        bytes += lens[j];
                        j++;
                        if (lens[j - 1] < seg) {
                            break;
                        }
                    }
                }
                s.send(addrs, lens, i, j - i, j - i > 1 ? seg : 0);
                i = j;
            }
        } catch (NativeException e) {
            throw down(e);
        }
    }

    @Override
    public boolean receive(ByteBuffer buf, int timeoutMs) throws IOException {
        if (rxOffset < rxLength) {
            next(buf);
            return true;
        }
        UdpSocket s = socket;
        if (s == null) {
            return Backend.idle(timeoutMs);
        }
        try {
            int r = s.receive(rxAddr, rx.capacity());
            if (r < 0) {
                if (!s.await(timeoutMs)) {
                    return false;
                }
                r = s.receive(rxAddr, rx.capacity());
                if (r < 0) {
                    return false;
                }
            }
            rxLength = r;
            rxOffset = 0;
            rxSegment = s.lastSegmentSize() > 0 ? s.lastSegmentSize() : Math.max(r, 1);
        } catch (NativeException e) {
            if (e.errno() == Errno.EBADF) {
                return false; // closed under us: the pump is stopping or reopening
            }
            if (e.errno() == ECONNREFUSED) {
                refused = true; // the error belongs to the sending side: its next send says it
                return false;
            }
            throw down(e);
        }
        heard = true;
        next(buf);
        return true;
    }

    /**
     * Receives straight into the batch: one datagram, or with UDP_GRO a run of them that the kernel
     * hands over as one buffer, cut at its segment size; no copy.
     */
    @Override
    public int receive(Batch batch, int timeoutMs) throws IOException {
        if (rxOffset < rxLength) {
            // frames left from a receive into the single-frame buffer (not mixed in practice)
            return Backend.super.receive(batch, timeoutMs);
        }
        UdpSocket s = socket;
        if (s == null) {
            Backend.idle(timeoutMs);
            return 0;
        }
        int r;
        try {
            // waits in recvmsg itself (up to the socket's 100 ms receive timeout, which stands in for
            // timeoutMs): a wake-up costs one call
            r = s.receiveWaiting(batch.nextAddress(), batch.room());
            if (r < 0) {
                return 0;
            }
        } catch (NativeException e) {
            if (e.errno() == Errno.EBADF) {
                return 0; // closed under us: the pump is stopping or reopening
            }
            if (e.errno() == ECONNREFUSED) {
                refused = true; // the error belongs to the sending side: its next send says it
                return 0;
            }
            throw down(e);
        }
        heard = true;
        int seg = s.lastSegmentSize() > 0 ? s.lastSegmentSize() : Math.max(r, 1);
        int at = batch.used();
        int n = 0;
        for (int off = 0; off < r && batch.slots() > 0; off += seg) {
            batch.addAt(at + off, Math.min(seg, r - off));
            n++;
        }
        batch.advance(r);
        return n;
    }

    /** The next frame of what was received, into buf. */
    private void next(ByteBuffer buf) {
        int len = Math.min(rxSegment, rxLength - rxOffset);
        buf.clear();
        buf.put(rx.duplicate().limit(rxOffset + len).position(rxOffset));
        buf.flip();
        rxOffset += len;
    }

    @Override
    public String describe() {
        return "udp " + peer.getHostString() + ":" + peer.getPort() + " (listening on " + listen.getHostString() + ":"
                + listen.getPort() + ")";
    }

    @Override
    public synchronized void close() {
        if (socket != null) {
            socket.close();
            socket = null;
        }
        rxLength = 0;
        rxOffset = 0;
    }
}
