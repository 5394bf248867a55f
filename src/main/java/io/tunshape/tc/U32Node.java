package io.tunshape.tc;

import java.util.List;

/**
 * One object of a u32 classifier as a dump shows it, with the kernel's own handles taken out so that
 * two trees built alike compare equal: either a hash table ({@code divisor > 0}, in {@code table}) or
 * a key node in bucket {@code bucket} of {@code table} (0: the root table the kernel made for the
 * priority) with its selector, its class (0: none) and the table it links to (0: none).
 *
 * <p>Key node semantics (net/sched/cls_u32.c, u32_classify): every key must match at
 * {@code base + key.offset}; a node with a link then hashes the word at {@code base + sel.hoff} as
 * {@code ((word & hmask) >> (lowest set bit of hmask)) & (divisor - 1)} to pick the linked table's
 * bucket, and with {@link Tc#TC_U32_EAT} moves the base by its offset (a fixed one, or
 * {@code (u16 at offoff & offmask) >> offshift}, rounded down to 4 bytes) for the linked table.
 */
public record U32Node(int prio, int protocol, int table, int bucket, int divisor, Selector sel, long classid,
                      int link) {
    /**
     * struct tc_u32_sel: flags, offshift, nkeys, offmask (host order here), off, offoff, hoff, hmask,
     * then the keys.
     */
    public record Selector(int flags, int offshift, int offmask, int off, int offoff, int hoff, long hmask,
                           List<U32Filter.Key> keys) {
        public Selector {
            keys = List.copyOf(keys);
        }
    }

    /** A hash table of {@code divisor} buckets with handle {@code table}: (the 12-bit htid). */
    public static U32Node table(int prio, int protocol, int table, int divisor) {
        return new U32Node(prio, protocol, table, 0, divisor, null, 0, 0);
    }

    public static U32Node key(int prio, int protocol, int table, int bucket, Selector sel, long classid, int link) {
        return new U32Node(prio, protocol, table, bucket, 0, sel, classid, link);
    }

    public boolean isTable() {
        return divisor > 0;
    }
}
