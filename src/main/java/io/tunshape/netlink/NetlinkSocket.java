package io.tunshape.netlink;

import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A NETLINK_ROUTE socket for requests and dumps. Replies are matched on sequence number and port
 * id; anything else on the socket is skipped. The socket sees the network namespace of the thread
 * that opened it, for its whole life.
 */
public final class NetlinkSocket implements AutoCloseable {
    private static final int BUFSIZE = 64 * 1024;
    private static final int DUMP_RETRIES = 5;

    private final Fd fd;
    private final int portId;
    /**
     * One receive buffer a thread, not a socket: what arrives is copied out before receive returns,
     * and a daemon holding two sockets in each of a thousand namespaces would otherwise hold 64 MiB
     * of buffers that wait for nothing.
     */
    private static final ThreadLocal<ByteBuffer> RX =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(BUFSIZE).order(ByteOrder.nativeOrder()));
    /** Sized to the largest request sent so far (a few hundred bytes for a class change). */
    private ByteBuffer tx = ByteBuffer.allocateDirect(512).order(ByteOrder.nativeOrder());
    private int seq = (int) (System.currentTimeMillis() / 1000);
    private long requestsSent;

    private NetlinkSocket(Fd fd, int portId) {
        this.fd = fd;
        this.portId = portId;
    }

    /** Opens a route socket in the calling thread's network namespace, with extended acks on. */
    public static NetlinkSocket open() {
        return open(0);
    }

    /** Opens a route socket subscribed to the multicast groups in {@code groups} (a bit mask). */
    public static NetlinkSocket open(int groups) {
        return open(groups, 0);
    }

    /**
     * Opens a route socket subscribed to {@code groups} with the port id {@code port} (0: one the
     * kernel picks). A port id is unique only within a namespace; one taken there is EADDRINUSE.
     */
    public static NetlinkSocket open(int groups, int port) {
        Fd fd = Sys.socket(Nl.AF_NETLINK, Sys.SOCK_RAW | Sys.SOCK_CLOEXEC, Nl.NETLINK_ROUTE);
        try {
            Sys.setsockopt(fd, Sys.SOL_SOCKET, Sys.SO_SNDBUF, 32768);
            Sys.setsockopt(fd, Sys.SOL_SOCKET, Sys.SO_RCVBUF, groups != 0 ? eventBuffer() : 1 << 20);
            Sys.setsockopt(fd, Nl.SOL_NETLINK, Nl.NETLINK_EXT_ACK, 1);
            ByteBuffer sa = sockaddr(groups);
            sa.putInt(4, port);
            Sys.bind(fd, sa);
            ByteBuffer got = ByteBuffer.allocateDirect(12).order(ByteOrder.nativeOrder());
            Sys.getsockname(fd, got);
            return new NetlinkSocket(fd, got.getInt(4));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /**
     * The lowest port id of the range [-4096, -1], which the kernel's autobind never takes (it tries
     * the process id, then [-2^31, -4097]); only an explicit bind does.
     */
    public static final int RESERVED_PORTS = -4096;

    /**
     * Opens a socket subscribed to {@code groups} in the calling thread's namespace that also hears
     * every namespace having an id there ({@link #nsid}), each datagram with the id it came from
     * ({@link #receiveEventsNow(int[])}): one socket for a daemon serving a thousand namespaces,
     * where a socket subscribed in each made every change on the host slower. (The kernel delivers a
     * notification by walking every subscribed route socket of every namespace: with 1000 of them a
     * class change took 340 us instead of 65 us.) Its receive buffer is {@code rcvbuf} bytes, set
     * with SO_RCVBUFFORCE (root may pass net.core.rmem_max; it holds only what waits).
     *
     * <p>Its port id is the first free one from {@link #RESERVED_PORTS} up, one the kernel never gives
     * a socket on its own: Linux before 5.15 leaves a tc change out of every socket, in any namespace,
     * whose port id is the one that asked for the change (rtnetlink_send excluded the requester's port
     * id until commit cfdf0d9ae75b), and port ids are unique only within a namespace: a process's first
     * socket in each namespace gets the process id, so a socket of the same process in a served
     * namespace would have silenced its changes there.
     */
    public static NetlinkSocket openAllNamespaces(int groups, int rcvbuf) {
        NetlinkSocket s = null;
        for (int port = RESERVED_PORTS; s == null; port++) {
            try {
                s = open(groups, port);
            } catch (NativeException e) {
                if (e.errno() != Errno.EADDRINUSE || port == -1) {
                    throw e;
                }
            }
        }
        try {
            int size = System.getenv("TUNSHAPE_EVENT_RCVBUF") != null ? eventBuffer() : rcvbuf;
            try {
                Sys.setsockopt(s.fd, Sys.SOL_SOCKET, Sys.SO_RCVBUFFORCE, size);
            } catch (NativeException e) {
                Sys.setsockopt(s.fd, Sys.SOL_SOCKET, Sys.SO_RCVBUF, size); // without CAP_NET_ADMIN: up to rmem_max
            }
            Sys.setsockopt(s.fd, Nl.SOL_NETLINK, Nl.NETLINK_LISTEN_ALL_NSID, 1);
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /**
     * The id this socket's namespace has for the namespace {@code netns} refers to, giving it one
     * (the lowest free, as `ip netns set NAME auto` does) when it has none: what
     * {@link #receiveEventsNow(int[])} names the namespace by. An id lives as long as either
     * namespace; giving one changes nothing else.
     */
    public int nsid(Fd netns) {
        int id = existingNsid(netns);
        if (id >= 0) {
            return id;
        }
        try {
            request(new MessageWriter(Nl.RTM_NEWNSID, Nl.F_REQUEST | Nl.F_ACK).u32(0)
                    .attrU32(Nl.NETNSA_NSID, 0xFFFF_FFFFL).attrU32(Nl.NETNSA_FD, netns.acquire()));
        } catch (NetlinkException e) {
            if (e.errno() != Errno.EEXIST) {
                throw e; // EEXIST: someone gave it one meanwhile
            }
        } finally {
            netns.release();
        }
        id = existingNsid(netns);
        if (id < 0) {
            throw new NetlinkException(Errno.ENOENT, "the namespace has no id after one was given to it", -1);
        }
        return id;
    }

    /** The id this socket's namespace has for the namespace {@code netns} refers to, or -1: none given. */
    public int existingNsid(Fd netns) {
        Message r;
        try {
            r = get(new MessageWriter(Nl.RTM_GETNSID, Nl.F_REQUEST | Nl.F_ACK).u32(0)
                    .attrU32(Nl.NETNSA_FD, netns.acquire()));
        } finally {
            netns.release();
        }
        if (r == null) {
            return -1;
        }
        Attrs a = r.attrs(4, Nl.NETNSA_FD);
        return a.has(Nl.NETNSA_NSID) ? (int) a.u32(Nl.NETNSA_NSID) : -1;
    }

    /**
     * An event socket's receive buffer: 1 MiB, or {@code $TUNSHAPE_EVENT_RCVBUF} bytes, which lets a
     * fault test force overruns (ENOBUFS) with a small one; readers must survive those anyway.
     */
    private static int eventBuffer() {
        String v = System.getenv("TUNSHAPE_EVENT_RCVBUF");
        try {
            return v == null ? 1 << 20 : Math.max(256, Integer.parseInt(v.strip()));
        } catch (NumberFormatException e) {
            return 1 << 20;
        }
    }

    private static ByteBuffer sockaddr(int groups) {
        ByteBuffer sa = ByteBuffer.allocateDirect(12).order(ByteOrder.nativeOrder());
        sa.putShort((short) Nl.AF_NETLINK).putShort((short) 0).putInt(0).putInt(groups).flip();
        return sa;
    }

    /** The port id the kernel gave this socket: the sender of its requests, named in what they cause. */
    public int portId() {
        return portId;
    }

    /** How many requests and dumps this socket has sent: lets tests prove an idempotent run sent none. */
    public long requestsSent() {
        return requestsSent;
    }

    private int send(MessageWriter m) {
        return send(List.of(m));
    }

    /**
     * Sends {@code ms} back to back in one datagram, each with the next sequence number, only the last
     * keeping its ACK flag; returns the last one's sequence number.
     */
    private int send(List<MessageWriter> ms) {
        int len = 0;
        for (MessageWriter m : ms) {
            len += Nl.align(m.length());
        }
        if (tx.capacity() < len) {
            tx = ByteBuffer.allocateDirect(Math.max(len, 2 * tx.capacity())).order(ByteOrder.nativeOrder());
        }
        tx.clear();
        for (MessageWriter m : ms) {
            m.writeTo(tx, 0); // numbered below
        }
        tx.flip();
        sendNumbered(tx);
        return seq;
    }

    /**
     * Sends the messages written back to back from {@code b}'s position to its limit as one datagram,
     * each given the next sequence number in place and only the last keeping its ACK flag; returns the
     * first one's sequence number.
     */
    private int sendNumbered(ByteBuffer b) {
        int first = seq + 1;
        for (int at = b.position(); at < b.limit(); ) {
            int len = b.getInt(at);
            if (len < Nl.HDRLEN) {
                throw new IllegalArgumentException("a message of " + len + " bytes at " + at);
            }
            int next = at + Nl.align(len);
            b.putInt(at + 8, ++seq);
            if (next < b.limit()) {
                b.putShort(at + 6, (short) (b.getShort(at + 6) & ~Nl.F_ACK));
            }
            at = next;
        }
        Sys.sendto(fd, b, 0, kernel());
        requestsSent += seq - first + 1;
        return first;
    }

    private static ByteBuffer kernelAddr;

    private static synchronized ByteBuffer kernel() {
        if (kernelAddr == null) {
            kernelAddr = sockaddr(0);
        }
        return kernelAddr.duplicate();
    }

    /** Receives one datagram and splits it into messages. */
    private List<Message> receive() {
        return receive(0);
    }

    private List<Message> receive(int flags) {
        ByteBuffer rx = RX.get();
        long n;
        while (true) {
            try {
                n = Sys.recv(fd, rx, Sys.MSG_TRUNC | flags);
                break;
            } catch (NativeException e) {
                if (e.errno() != Errno.EINTR) {
                    throw e;
                }
            }
        }
        if (n > rx.capacity()) {
            throw new NetlinkException(Errno.ENOBUFS, "netlink reply of " + n + " bytes was truncated", -1);
        }
        return Message.split(rx, n);
    }

    private boolean mine(Message m, int s) {
        return m.seq() == s && m.pid() == portId;
    }

    /** Sends a request that asks for an ACK and waits for it. */
    public Ack request(MessageWriter m) {
        return requestBatch(List.of(m));
    }

    /**
     * Sends {@code ms} in one datagram, only the last asking for an ACK. The kernel handles them in
     * order (netlink_rcv_skb), answers any that fails with its error whether asked or not, and acks
     * the last: a batch that succeeds costs one send and one receive, where a request each costs two
     * of each (the daemon's rate change: a class and its leaf). Throws the first error; the messages
     * after a failed one were still handled. Warnings come only with the last one's ACK.
     */
    public Ack requestBatch(List<MessageWriter> ms) {
        int last = send(ms);
        return awaitAck(last - ms.size() + 1, last);
    }

    /**
     * As {@link #requestBatch(List)}, for messages already written back to back from {@code
     * messages}'s position to its limit (each with its length): numbered and flagged in place as a
     * list's are, and sent from {@code messages} itself, with no copy (the daemon's
     * rate changes: {@code io.tunshape.tc.HtbRateTemplate}).
     */
    public Ack requestBatch(ByteBuffer messages) {
        return awaitAck(sendNumbered(messages), seq);
    }

    /** Waits for the ACK of {@code last}, throwing the first error of the requests {@code first}..{@code last}. */
    private Ack awaitAck(int first, int last) {
        NetlinkException failed = null;
        while (true) {
            for (Message r : receive()) {
                if (r.pid() != portId || r.seq() - first < 0 || last - r.seq() < 0 || r.type() != Nl.NLMSG_ERROR) {
                    continue;
                }
                if (r.seq() != last) {
                    try {
                        Ack.of(r); // only an error comes for these: no ACK was asked
                    } catch (NetlinkException e) {
                        failed = failed == null ? e : failed;
                    }
                    continue;
                }
                if (failed != null) {
                    throw failed;
                }
                return Ack.of(r);
            }
        }
    }

    /**
     * Sends a get request (no dump) and returns its one reply. Some gets succeed with nothing to
     * say (a device's root qdisc when it is noqueue): such a request must ask for an ACK, and then
     * an ACK without a reply before it returns null. (An ACK after a reply is left behind and
     * skipped by the next call: its sequence number is not that call's.)
     */
    public Message get(MessageWriter m) {
        int s = send(m);
        while (true) {
            for (Message r : receive()) {
                if (!mine(r, s)) {
                    continue;
                }
                if (r.type() == Nl.NLMSG_ERROR) {
                    Ack.of(r);
                    return null;
                }
                return r;
            }
        }
    }

    /** Sends a dump request and returns every reply message, redoing the dump if it was interrupted. */
    public List<Message> dump(MessageWriter m) {
        for (int attempt = 0; ; attempt++) {
            List<Message> out = new ArrayList<>();
            boolean interrupted = false;
            int s = send(m);
            boolean done = false;
            while (!done) {
                for (Message r : receive()) {
                    if (!mine(r, s)) {
                        continue;
                    }
                    if ((r.flags() & Nl.F_DUMP_INTR) != 0) {
                        interrupted = true;
                    }
                    if (r.type() == Nl.NLMSG_DONE) {
                        int err = r.length() >= Nl.HDRLEN + 4 ? r.buffer().getInt(Nl.HDRLEN) : 0;
                        if (err < 0) {
                            throw new NetlinkException(-err, Ack.extackMessage(r, Nl.HDRLEN + 4), -1);
                        }
                        done = true;
                        break;
                    }
                    if (r.type() == Nl.NLMSG_ERROR) {
                        Ack.of(r);
                        continue;
                    }
                    out.add(r);
                }
            }
            if (!interrupted || attempt >= DUMP_RETRIES) {
                return out;
            }
        }
    }

    /** Whether a datagram is waiting, after waiting up to {@code timeoutMs}. */
    public boolean poll(int timeoutMs) {
        return (io.tunshape.sys.Sys.poll(fd, io.tunshape.sys.Sys.POLLIN, timeoutMs) & io.tunshape.sys.Sys.POLLIN) != 0;
    }

    /** Waits for the next datagram (events, for a subscribed socket). */
    public List<Message> receiveEvents() {
        return receive();
    }

    /** The next datagram's messages if one is waiting, else null (never blocks: for an event loop). */
    public List<Message> receiveEventsNow() {
        try {
            return receive(Sys.MSG_DONTWAIT);
        } catch (NativeException e) {
            if (e.errno() == Errno.EAGAIN) {
                return null;
            }
            throw e;
        }
    }

    /**
     * As {@link #receiveEventsNow()}, for a socket of {@link #openAllNamespaces}: {@code nsid[0]}
     * gets the id of the namespace the datagram came from, or -1 for this socket's own.
     */
    public List<Message> receiveEventsNow(int[] nsid) {
        ByteBuffer rx = RX.get();
        long n;
        try {
            n = Sys.recvWithCmsgInt(fd, rx, Sys.MSG_TRUNC | Sys.MSG_DONTWAIT, Nl.SOL_NETLINK,
                    Nl.NETLINK_LISTEN_ALL_NSID, nsid);
        } catch (NativeException e) {
            if (e.errno() == Errno.EAGAIN) {
                return null;
            }
            throw e;
        }
        if (nsid[0] == Sys.NO_CMSG) {
            nsid[0] = -1;
        }
        if (n > rx.capacity()) {
            throw new NetlinkException(Errno.ENOBUFS, "netlink event of " + n + " bytes was truncated", -1);
        }
        return Message.split(rx, n);
    }

    /** The socket's descriptor, for an event loop to wait on (not to read or close). */
    public Fd fd() {
        return fd;
    }

    @Override
    public void close() {
        fd.close();
    }
}
