package io.tunshape.tc;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * The flow classifier where eBPF is refused: u32 hash tables that pick a flow queue from the bits of
 * the transport source port. The kernel's u32 can hash one 32-bit word at a fixed offset from where a
 * node stands, so each family takes two steps: a node at the root matches UDP or TCP (IPv4: first
 * fragments only, as later fragments carry no ports) and moves to the transport header (IPv4: by its
 * IHL, as {@code offset at 0 mask 0x0f00 shift 6 eat}; IPv6: 40 bytes, no extension headers), and a
 * node there hashes the ports word with mask {@link #HMASK}: bits 1 and up of the source port (Linux
 * gives TCP connections even ports, so bit 0 would leave half the queues empty), {@code & (buckets - 1)}.
 * Bucket i sends to class {@code first + i % count}. Everything else (ICMP, later fragments, other
 * protocols, IPv6 with extension headers) matches nothing here and goes to htb's default class, the
 * first queue.
 *
 * <p>Weaker than the eBPF classifier: neither the addresses nor the destination port take part (the
 * flows of a server, all from one port, share a queue); a sender that chooses its source port chooses
 * its queue; buckets are a power of two, at most 256.
 */
public record U32FlowHash(int count, int firstMinor, int prio) {
    /** The hash mask over the ports word (source port in the high half). */
    public static final long HMASK = 0xfffe0000L;
    /** Table handles (12-bit htids; the kernel gives the root tables it makes 800: and up). */
    public static final int T4 = 0x1;
    public static final int H4 = 0x2;
    public static final int T6 = 0x3;
    public static final int H6 = 0x4;
    public static final int MAX_BUCKETS = 256;
    private static final int TCP = 6;
    private static final int UDP = 17;

    /** Buckets: the power of two at or above the count, at most {@link #MAX_BUCKETS}. */
    public int buckets() {
        int b = 1;
        while (b < count && b < MAX_BUCKETS) {
            b <<= 1;
        }
        return b;
    }

    /** The class (minor) bucket {@code i} sends to. */
    public int classOf(int bucket) {
        return firstMinor + bucket % count;
    }

    /** How many queues receive flows (all, unless there are more than {@link #MAX_BUCKETS}). */
    public int queuesReached() {
        return Math.min(count, buckets());
    }

    /** The queue a packet with source port {@code sport} goes to (index from the first queue). */
    public int queueOfSourcePort(int sport) {
        long h = ((((long) sport << 16) & HMASK) >>> Long.numberOfTrailingZeros(HMASK)) & (buckets() - 1);
        return classOf((int) h) - firstMinor;
    }

    private static U32Node.Selector sel(int flags, int offshift, int offmask, int off, List<U32Filter.Key> keys,
                                        long hmask) {
        return new U32Node.Selector(flags, offshift, offmask, off, 0, 0, hmask, keys);
    }

    private static final List<U32Filter.Key> ANY = List.of(new U32Filter.Key(0, 0, 0));

    /** The objects in the order they are created: tables before the nodes that fill or link to them. */
    public List<U32Node> nodes(int major) {
        List<U32Node> out = new ArrayList<>();
        family(out, major, prio, U32Filter.ETH_P_IP, T4, H4);
        family(out, major, prio + 1, U32Filter.ETH_P_IPV6, T6, H6);
        return out;
    }

    private void family(List<U32Node> out, int major, int p, int proto, int t, int h) {
        int n = buckets();
        out.add(U32Node.table(p, proto, t, 1));
        out.add(U32Node.table(p, proto, h, n));
        for (int i = 0; i < n; i++) {
            out.add(U32Node.key(p, proto, h, i, sel(Tc.TC_U32_TERMINAL, 0, 0, 0, ANY, 0), Handle.of(major,
                    classOf(i)).value(), 0));
        }
        out.add(U32Node.key(p, proto, t, 0, sel(0, 0, 0, 0, ANY, HMASK), 0, h));
        for (int l4 : new int[] {UDP, TCP}) {
            if (proto == U32Filter.ETH_P_IP) {
                // protocol, and fragment offset 0; then on by the IHL: (u16 at 0 & 0x0f00) >> 6 = IHL * 4
                List<U32Filter.Key> keys = List.of(new U32Filter.Key(0x00ff0000L, (long) l4 << 16, 8),
                        new U32Filter.Key(0x00001fffL, 0, 4));
                out.add(U32Node.key(p, proto, 0, 0, sel(Tc.TC_U32_VAROFFSET | Tc.TC_U32_EAT, 6, 0x0f00, 0, keys, 0),
                        0, t));
            } else {
                List<U32Filter.Key> keys = List.of(new U32Filter.Key(0x0000ff00L, (long) l4 << 8, 4));
                out.add(U32Node.key(p, proto, 0, 0, sel(Tc.TC_U32_OFFSET | Tc.TC_U32_EAT, 0, 0, 40, keys, 0), 0, t));
            }
        }
    }

    /** Whether {@code prio} is one of the flow classifier's (IPv4's, or IPv6's after it). */
    public static boolean isFlowPrio(int prio, int first) {
        return prio == first || prio == first + 1;
    }

    /**
     * The classifier that {@code dumped} (the u32 objects at the flow priorities, normalised) is,
     * when it is exactly one tunshape builds; else null.
     */
    public static U32FlowHash recognise(List<U32Node> dumped, int major, int prio) {
        if (dumped.isEmpty()) {
            return null;
        }
        int lo = Integer.MAX_VALUE;
        int hi = -1;
        for (U32Node n : dumped) {
            if (!n.isTable() && n.table() == H4 && n.classid() != 0) {
                Handle c = new Handle(n.classid());
                if (c.major() != major) {
                    return null;
                }
                lo = Math.min(lo, c.minor());
                hi = Math.max(hi, c.minor());
            }
        }
        if (hi < 0) {
            return null;
        }
        U32FlowHash h = new U32FlowHash(hi - lo + 1, lo, prio);
        List<U32Node> want = h.nodes(major);
        return want.size() == dumped.size() && new HashSet<>(want).equals(new HashSet<>(dumped)) ? h : null;
    }
}
