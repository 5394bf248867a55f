package io.tunshape.tc;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A u32 classifier that sends matching packets to an htb class: every key must match
 * ({@code (word_at(off) & mask) == value}, offsets from the network header, big-endian words).
 * {@code protocol} is the ethertype (0x0800 IPv4, 0x86DD IPv6); {@code prio} orders filters.
 *
 * <p>An IPv4 key at offset {@link #IPV4_L4} or beyond is on the transport header (the ports): offset
 * 20 is its first word. The kernel gets such a filter as a small tree that finds the transport header
 * by the IPv4 header's length (IHL), so that options do not move the ports out from under the keys:
 * a node at the root matches the IP keys and a first fragment (later ones carry no ports), then moves
 * on by {@code (u16 at 0 & 0x0f00) >> 6} = IHL * 4 bytes (as `tc filter ... u32 match ... offset at 0
 * mask 0f00 shift 6 eat link T:`) into a table of its own, whose one node matches the transport keys
 * and names the class. IPv6 keys stay at fixed offsets (no extension headers), in one node.
 */
public record U32Filter(int prio, int protocol, List<Key> keys, int classMinor) {
    public static final int ETH_P_IP = 0x0800;
    public static final int ETH_P_IPV6 = 0x86DD;
    /** Where the transport header starts in an IPv4 header without options. */
    public static final int IPV4_L4 = 20;
    /** The tables of transport keys: {@code TABLE_BASE + prio} (below the kernel's own, 800: and up). */
    public static final int TABLE_BASE = 0x100;
    /** The highest priority a filter with transport keys may have (its table must stay below 800:). */
    public static final int MAX_TREE_PRIO = 0x800 - TABLE_BASE - 1;
    /** A first fragment: fragment offset 0 (later fragments carry no transport header). */
    private static final Key FIRST_FRAGMENT = new Key(0x00001fffL, 0, 4);

    public U32Filter {
        keys = List.copyOf(keys);
    }

    public record Key(long mask, long value, int offset) {
    }

    /** Whether the kernel gets this filter as a tree that follows the IPv4 header's length. */
    public boolean followsIhl() {
        if (protocol != ETH_P_IP) {
            return false;
        }
        for (Key k : keys) {
            if (k.offset() >= IPV4_L4) {
                return true;
            }
        }
        return false;
    }

    /** The u32 objects the kernel holds for this filter under a qdisc of {@code major}, in the order they are made. */
    public List<U32Node> nodes(int major) {
        long classid = Handle.of(major, classMinor).value();
        if (!followsIhl()) {
            return List.of(U32Node.key(prio, protocol, 0, 0, selector(Tc.TC_U32_TERMINAL, 0, 0, keys), classid, 0));
        }
        if (prio > MAX_TREE_PRIO) {
            throw new IllegalArgumentException("u32 filter priority " + prio + " is above " + MAX_TREE_PRIO
                    + ", the highest one whose port table fits below the kernel's tables");
        }
        List<Key> ip = new ArrayList<>();
        List<Key> l4 = new ArrayList<>();
        for (Key k : keys) {
            if (k.offset() >= IPV4_L4) {
                l4.add(new Key(k.mask(), k.value(), k.offset() - IPV4_L4));
            } else {
                ip.add(k);
            }
        }
        ip.add(FIRST_FRAGMENT);
        int table = TABLE_BASE + prio;
        return List.of(U32Node.table(prio, protocol, table, 1),
                U32Node.key(prio, protocol, 0, 0, selector(Tc.TC_U32_VAROFFSET | Tc.TC_U32_EAT, 6, 0x0f00, ip), 0,
                        table),
                U32Node.key(prio, protocol, table, 0, selector(Tc.TC_U32_TERMINAL, 0, 0, l4), classid, 0));
    }

    private static U32Node.Selector selector(int flags, int offshift, int offmask, List<Key> keys) {
        return new U32Node.Selector(flags, offshift, offmask, 0, 0, 0, 0, keys);
    }

    /** The objects of some filters, in the order they are made. */
    public static List<U32Node> nodes(List<U32Filter> filters, int major) {
        List<U32Node> out = new ArrayList<>();
        for (U32Filter f : filters) {
            out.addAll(f.nodes(major));
        }
        return out;
    }

    /**
     * The filters that {@code dumped} (u32 objects of the match priorities, normalised) are, one per
     * priority and protocol whose objects are exactly what {@link #nodes} makes of one filter sending to a
     * class of {@code major}, or are one plain node with fixed offsets (as `tc filter ... u32 match ...
     * flowid` makes); objects that are neither (another program's trees) are left out.
     */
    public static List<U32Filter> recognise(List<U32Node> dumped, int major) {
        Map<List<Integer>, List<U32Node>> groups = new LinkedHashMap<>();
        for (U32Node n : dumped) {
            groups.computeIfAbsent(List.of(n.prio(), n.protocol()), k -> new ArrayList<>()).add(n);
        }
        List<U32Filter> out = new ArrayList<>();
        for (List<U32Node> g : groups.values()) {
            U32Filter f = candidate(g, major);
            if (f != null && (sameObjects(f.nodes(major), g) || isPlainNode(g))) {
                out.add(f);
            }
        }
        return out;
    }

    /** The filter a priority's objects would be, read from its node with a class; null when there is none. */
    private static U32Filter candidate(List<U32Node> g, int major) {
        U32Node classNode = null;
        U32Node linkNode = null;
        for (U32Node n : g) {
            if (!n.isTable() && n.classid() != 0) {
                classNode = n;
            } else if (!n.isTable() && n.link() != 0) {
                linkNode = n;
            }
        }
        if (classNode == null || new Handle(classNode.classid()).major() != major) {
            return null;
        }
        List<Key> keys = new ArrayList<>();
        if (linkNode != null) {
            List<Key> ip = linkNode.sel().keys();
            keys.addAll(ip.subList(0, Math.max(0, ip.size() - 1)));
            for (Key k : classNode.sel().keys()) {
                keys.add(new Key(k.mask(), k.value(), k.offset() + IPV4_L4));
            }
        } else {
            keys.addAll(classNode.sel().keys());
        }
        return new U32Filter(classNode.prio(), classNode.protocol(), keys, new Handle(classNode.classid()).minor());
    }

    /** One key node in the priority's own table that matches at fixed offsets and names a class. */
    private static boolean isPlainNode(List<U32Node> g) {
        if (g.size() != 1 || g.get(0).isTable()) {
            return false;
        }
        U32Node n = g.get(0);
        U32Node.Selector s = n.sel();
        return n.table() == 0 && n.link() == 0 && s.flags() == Tc.TC_U32_TERMINAL && s.offshift() == 0
                && s.offmask() == 0 && s.off() == 0 && s.offoff() == 0 && s.hoff() == 0 && s.hmask() == 0;
    }

    /** Whether two lists hold the same u32 objects, in any order. */
    public static boolean sameObjects(List<U32Node> a, List<U32Node> b) {
        return a.size() == b.size() && new HashSet<>(a).equals(new HashSet<>(b));
    }
}
