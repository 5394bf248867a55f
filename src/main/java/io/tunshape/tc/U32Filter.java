package io.tunshape.tc;

import java.util.List;

/**
 * A u32 classifier that sends matching packets to an htb class: every key must match
 * ({@code (word_at(off) & mask) == value}, offsets from the network header, big-endian words).
 * {@code protocol} is the ethertype (0x0800 IPv4, 0x86DD IPv6); {@code prio} orders filters.
 */
public record U32Filter(int prio, int protocol, List<Key> keys, int classMinor) {
    public static final int ETH_P_IP = 0x0800;
    public static final int ETH_P_IPV6 = 0x86DD;

    public U32Filter {
        keys = List.copyOf(keys);
    }

    public record Key(long mask, long value, int offset) {
    }
}
