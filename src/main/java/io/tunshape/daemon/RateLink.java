package io.tunshape.daemon;

import io.tunshape.netlink.NamespaceLock;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;

/**
 * One namespace's path for rate changes: a netlink socket of its own (opened inside the namespace
 * beside the pass's session, so a change never waits for a pass's requests and acks), and the
 * namespace's lock, held open for the namespace's life ({@link NamespaceLock.Keeper}): a change
 * costs one flock to take it and one to drop it, and another process (an apply, a clear) is still
 * excluded. Changes of the namespace's devices go one at a time over the socket; of two changes of
 * one device, the older is not sent after the newer ({@link RateController.Change#seq}).
 */
final class RateLink implements AutoCloseable {
    /** What became of a change. */
    enum Sent { DONE, STALE, BUSY, NOT_COMPILED }

    private final NetlinkSocket socket;
    private final TcClient tc;
    /** The namespace's (the warm-up's private namespace has one too, so that its changes take this same path). */
    private final NamespaceLock.Keeper lock;

    RateLink(NetlinkSocket socket, TcCodec codec, NamespaceLock.Keeper lock) {
        this.socket = socket;
        this.tc = new TcClient(socket, codec);
        this.lock = java.util.Objects.requireNonNull(lock, "the namespace's lock");
    }

    /** This socket's netlink port id: the events its changes cause carry it. */
    int portId() {
        return socket.portId();
    }

    /**
     * Sends {@code ch} for {@code d}, unless a newer change of it was sent already; BUSY when another
     * process holds the namespace's lock (a pass follows). Throws what the kernel refused.
     */
    Sent send(Namespace.Device d, RateController.Change ch) {
        CompiledRate cr = d.compiled;
        if (cr == null) {
            return Sent.NOT_COMPILED;
        }
        if (d.stall.stalled) {
            return Sent.STALE; // the stall qdisc is the root: the pass after the stall plans with the latest rate
        }
        if (!lock.tryEnter(null)) {
            return Sent.BUSY;
        }
        try {
            synchronized (this) {
                if (ch.seq() <= d.sentSeq) {
                    return Sent.STALE;
                }
                cr.send(tc, ch.bps(), ch.flush());
                d.sentSeq = ch.seq();
                return Sent.DONE;
            }
        } finally {
            lock.exit();
        }
    }

    /**
     * After a pass set {@code d}'s rate to its controller's change {@code planned}: what the report
     * thread sent meanwhile may have been overwritten, so the controller's latest goes again if newer.
     * The caller is inside the namespace's lock.
     */
    void settled(Namespace.Device d, RateController.Change planned, RateController c) {
        synchronized (this) {
            d.sentSeq = planned.seq();
            RateController.Change latest = c.current();
            if (latest.seq() > planned.seq() && d.compiled != null) {
                d.compiled.send(tc, latest.bps(), false);
                d.sentSeq = latest.seq();
            }
        }
    }

    /** Closes the socket (the lock is the namespace's: it closes it). */
    @Override
    public void close() {
        socket.close();
    }
}
