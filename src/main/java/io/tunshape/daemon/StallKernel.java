package io.tunshape.daemon;

import io.tunshape.link.LinkInfo;
import io.tunshape.link.TunFlags;
import io.tunshape.netlink.NamespaceLock;
import io.tunshape.shape.Session;
import io.tunshape.shape.Shaper;
import io.tunshape.tc.Handle;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * The stall guard's kernel side: tun_flags from the namespace's sysfs ({@link TunFlags}), counters
 * from one snapshot over the namespace's session (its links' tx_packets, its roots' backlog in
 * packets: htb's and tbf's root count every packet of their tree), and the stall qdisc.
 */
final class StallKernel implements StallWatch.Kernel {
    /**
     * Whether this kernel offers IFF_BACKPRESSURE (TUNGETFEATURES; unknown when /dev/net/tun cannot be
     * asked, then the flags are read): where it does not, no device can carry it and no sysfs is read.
     */
    private final boolean offered;

    StallKernel() {
        int features = io.tunshape.tun.TunDevice.features();
        this.offered = features == 0 || (features & TunFlags.IFF_BACKPRESSURE) != 0;
    }

    @Override
    public Map<String, Integer> flags(Namespace ns, Map<String, Integer> indexes) throws Exception {
        if (!offered) {
            return Map.of();
        }
        return TunFlags.read(ns.facts.path(), indexes);
    }

    @Override
    public Map<Integer, StallWatch.Sample> sample(Namespace ns) {
        Shaper.Snapshot snap;
        synchronized (ns) {
            Session s = ns.session;
            if (s == null) {
                return Map.of();
            }
            snap = s.shaper().snapshot();
        }
        return samples(snap);
    }

    /** Each link's sample from a snapshot. */
    static Map<Integer, StallWatch.Sample> samples(Shaper.Snapshot snap) {
        Map<Integer, StallWatch.Sample> out = new HashMap<>();
        for (LinkInfo l : snap.links()) {
            QdiscInfo root = snap.roots().get(l.index());
            boolean stalled = root != null && isStallQdisc(root);
            long qlen = root == null || root.stats() == null ? 0 : root.stats().qlen();
            long drops = stalled && root.stats() != null ? root.stats().drops() : 0;
            out.put(l.index(), new StallWatch.Sample(qlen, l.txPackets(), drops));
        }
        return out;
    }

    /** Whether a root is the stall guard's (show and status tell it apart by its handle). */
    static boolean isStallQdisc(QdiscInfo root) {
        return StallWatch.STALL_HANDLE.equals(root.handle()) && "pfifo".equals(root.kind());
    }

    @Override
    public void free(Namespace ns, Namespace.Device d) {
        synchronized (ns) {
            Session s = ns.session;
            NamespaceLock.Keeper lock = ns.lock;
            if (s == null || lock == null) {
                throw new IllegalStateException("the namespace is not open (a pass opens it again)");
            }
            lock.enterOrBusy("tunshape daemon (stall guard)");
            try {
                s.shaper().send(stallStep(d.index));
            } finally {
                lock.exit();
            }
        }
    }

    /**
     * Replaces a device's root by a pfifo with limit 0: the kernel frees what the old root held (its
     * senders' socket buffers with it), and the new one drops whatever is offered.
     */
    static Shaper.Step stallStep(int ifindex) {
        byte[] limit0 = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(0).array();
        return new Shaper.Step("replace the root by the stall qdisc (pfifo limit 0, " + StallWatch.STALL_HANDLE + ")",
                TcCodec.raw(Tc.RTM_NEWQDISC, TcClient.REPLACE, ifindex, StallWatch.STALL_HANDLE, Handle.ROOT, "pfifo",
                        limit0), false);
    }
}
