package io.tunshape.tc;

import io.tunshape.netlink.Attrs;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.Nl;
import io.tunshape.tc.KernelStructs.GnetStatsBasic;
import io.tunshape.tc.KernelStructs.GnetStatsQueue;
import io.tunshape.tc.KernelStructs.HtbGlob;
import io.tunshape.tc.KernelStructs.HtbOpt;
import io.tunshape.tc.KernelStructs.TbfQopt;
import io.tunshape.tc.KernelStructs.TcMsg;
import io.tunshape.tc.KernelStructs.TcRatespec;
import io.tunshape.tc.KernelStructs.U32Key;
import io.tunshape.tc.KernelStructs.U32Sel;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Between the qdisc model and netlink messages. Encodes byte for byte what tc 6.1 sends (attribute
 * order, rate tables, zero padding), except that ticks are rounded up instead of truncated. The
 * kernel structs themselves are {@link KernelStructs}.
 */
public final class TcCodec {
    /** Rate tables kept: a few devices' rates and ceilings (1 KB each); an adaptive rate makes new ones. */
    static final int TABLES_KEPT = 64;

    private final Psched psched;

    public TcCodec(Psched psched) {
        this.psched = psched;
    }

    /** A request with its tcmsg: the attributes follow. */
    public static MessageWriter tcmsg(int type, int flags, TcMsg t) {
        MessageWriter m = new MessageWriter(type, flags);
        t.write(m);
        return m;
    }

    public static MessageWriter tcmsg(int type, int flags, int ifindex, Handle handle, Handle parent) {
        return tcmsg(type, flags, TcMsg.of(ifindex, handle, parent));
    }

    /**
     * Rate tables by (rate, mtu, mpu), the {@link #TABLES_KEPT} used last: shaping many devices alike
     * computes each once, and a daemon that follows an adaptive rate for months does not keep one for
     * every rate it passed.
     */
    private final Map<TableKey, byte[]> tables = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<TableKey, byte[]> eldest) {
            return size() > TABLES_KEPT;
        }
    };

    private void table(MessageWriter m, int attr, Rate rate, int mtu, int mpu) {
        byte[] t;
        synchronized (tables) {
            t = tables.computeIfAbsent(new TableKey(rate.u32(), mtu, mpu), k -> {
                ByteBuffer b = ByteBuffer.allocate(256 * 4).order(ByteOrder.nativeOrder());
                for (long v : psched.rateTable(k.rate(), k.mtu(), k.mpu())) {
                    b.putInt((int) v);
                }
                return b.array();
            });
        }
        m.attr(attr, t);
    }

    /** How many rate tables are kept now (tests). */
    int tablesKept() {
        synchronized (tables) {
            return tables.size();
        }
    }

    /** RTM_NEWQDISC for a tbf. */
    public MessageWriter tbf(int flags, int ifindex, Handle handle, Handle parent, TbfSpec s) {
        MessageWriter m = tcmsg(Tc.RTM_NEWQDISC, flags, ifindex, handle, parent);
        m.attrString(Tc.TCA_KIND, "tbf");
        int opts = m.beginNest(Tc.TCA_OPTIONS);
        int parms = m.beginAttr(Tc.TCA_TBF_PARMS);
        new TbfQopt(TcRatespec.of(Psched.cellLog(0), s.rate(), s.overhead(), s.mpu()), TcRatespec.NONE,
                s.limit().bytes(), psched.xmitTicks(s.rate().u32(), s.burst().bytes()), 0).write(m);
        m.endNest(parms);
        m.attrU32(Tc.TCA_TBF_BURST, s.burst().bytes());
        if (s.rate().needs64()) {
            m.attrU64(Tc.TCA_TBF_RATE64, s.rate().bytesPerSecond());
        }
        table(m, Tc.TCA_TBF_RTAB, s.rate(), 0, s.mpu());
        return m.endNest(opts);
    }

    /** RTM_NEWQDISC for an htb root. */
    public MessageWriter htb(int flags, int ifindex, Handle handle, Handle parent, HtbSpec s) {
        MessageWriter m = tcmsg(Tc.RTM_NEWQDISC, flags, ifindex, handle, parent);
        m.attrString(Tc.TCA_KIND, "htb");
        int opts = m.beginNest(Tc.TCA_OPTIONS);
        int init = m.beginAttr(Tc.TCA_HTB_INIT);
        new HtbGlob(Tc.HTB_VERSION, s.r2q(), s.defaultMinor(), 0, 0).write(m);
        m.endNest(init);
        if (s.directQlen() > 0) {
            m.attrU32(Tc.TCA_HTB_DIRECT_QLEN, s.directQlen());
        }
        return m.endNest(opts);
    }

    /** RTM_NEWTCLASS for an htb class, with the rate tables tc sends. */
    public MessageWriter htbClass(int flags, int ifindex, Handle classid, Handle parent, HtbClassSpec c) {
        return htbClass(flags, ifindex, classid, parent, c, true);
    }

    /**
     * RTM_NEWTCLASS for an htb class; {@code tables} false leaves out RTAB and CTAB (2 KB): the kernel
     * reads them only for a ratespec of link layer 0, and ours name theirs. The daemon's rate changes
     * send none (less to encode, copy and compare in the kernel each time).
     */
    public MessageWriter htbClass(int flags, int ifindex, Handle classid, Handle parent, HtbClassSpec c,
                                  boolean tables) {
        MessageWriter m = tcmsg(Tc.RTM_NEWTCLASS, flags, ifindex, classid, parent);
        m.attrString(Tc.TCA_KIND, "htb");
        int opts = m.beginNest(Tc.TCA_OPTIONS);
        if (c.rate().needs64()) {
            m.attrU64(Tc.TCA_HTB_RATE64, c.rate().bytesPerSecond());
        }
        if (c.ceil().needs64()) {
            m.attrU64(Tc.TCA_HTB_CEIL64, c.ceil().bytesPerSecond());
        }
        int parms = m.beginAttr(Tc.TCA_HTB_PARMS);
        htbOpt(c).write(m);
        m.endNest(parms);
        if (tables) {
            table(m, Tc.TCA_HTB_RTAB, c.rate(), Tc.HTB_TABLE_MTU, c.mpu());
            table(m, Tc.TCA_HTB_CTAB, c.ceil(), Tc.HTB_TABLE_MTU, c.mpu());
        }
        return m.endNest(opts);
    }

    /** The tc_htb_opt of class {@code c}. */
    HtbOpt htbOpt(HtbClassSpec c) {
        int cellLog = Psched.cellLog(Tc.HTB_TABLE_MTU);
        return new HtbOpt(TcRatespec.of(cellLog, c.rate(), c.overhead(), c.mpu()),
                TcRatespec.of(cellLog, c.ceil(), c.overhead(), c.mpu()),
                psched.xmitTicks(c.rate().bytesPerSecond(), c.burst().bytes()),
                psched.xmitTicks(c.ceil().bytesPerSecond(), c.cburst().bytes()), c.quantum(), 0, c.prio());
    }

    /** RTM_NEWQDISC for a bfifo with a byte limit (struct tc_fifo_qopt: one __u32). */
    public MessageWriter bfifo(int flags, int ifindex, Handle handle, Handle parent, long limit) {
        MessageWriter m = tcmsg(Tc.RTM_NEWQDISC, flags, ifindex, handle, parent);
        m.attrString(Tc.TCA_KIND, "bfifo");
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt((int) limit);
        return m.attr(Tc.TCA_OPTIONS, b.array());
    }

    /** A qdisc or class with options exactly as a dump gave them: used to put back what was there. */
    public static MessageWriter raw(int type, int flags, int ifindex, Handle handle, Handle parent, String kind,
                                    byte[] options) {
        MessageWriter m = tcmsg(type, flags, ifindex, handle, parent);
        m.attrString(Tc.TCA_KIND, kind);
        if (options != null) {
            m.attr(Tc.TCA_OPTIONS, options);
        }
        return m;
    }

    public static MessageWriter delete(int type, int ifindex, Handle handle, Handle parent) {
        return tcmsg(type, Nl.F_REQUEST | Nl.F_ACK, ifindex, handle, parent);
    }

    /** RTM_DELTFILTER with priority 0: every filter under the parent. */
    public static MessageWriter deleteFilters(int ifindex, Handle parent) {
        return delete(Tc.RTM_DELTFILTER, ifindex, Handle.UNSPEC, parent);
    }

    /**
     * RTM_NEWTFILTER for one object of a u32 tree (as `tc filter add ... u32 divisor N` for a table,
     * `... u32 ht T:B: match ... [hashkey mask M at O] [offset ...] [link L:] [flowid C]` for a key node).
     * A table gets its handle {@code table:}; a key node gets one from the kernel.
     */
    public static MessageWriter u32Node(int flags, int ifindex, Handle parent, U32Node n) {
        Handle h = n.isTable() ? new Handle(Integer.toUnsignedLong(n.table() << 20)) : Handle.UNSPEC;
        MessageWriter m = tcmsg(Tc.RTM_NEWTFILTER, flags, TcMsg.filter(ifindex, h, parent, n.prio(), n.protocol()));
        m.attrString(Tc.TCA_KIND, "u32");
        int opts = m.beginNest(Tc.TCA_OPTIONS);
        if (n.isTable()) {
            m.attrU32(Tc.TCA_U32_DIVISOR, n.divisor());
            return m.endNest(opts);
        }
        if (n.classid() != 0) {
            m.attrU32(Tc.TCA_U32_CLASSID, n.classid());
        }
        if (n.table() != 0) {
            m.attrU32(Tc.TCA_U32_HASH, Integer.toUnsignedLong(n.table() << 20 | n.bucket() << 12));
        }
        if (n.link() != 0) {
            m.attrU32(Tc.TCA_U32_LINK, Integer.toUnsignedLong(n.link() << 20));
        }
        int sel = m.beginAttr(Tc.TCA_U32_SEL);
        sel(n.sel()).write(m);
        m.endNest(sel);
        return m.endNest(opts);
    }

    private static U32Sel sel(U32Node.Selector s) {
        List<U32Key> keys = new ArrayList<>(s.keys().size());
        for (U32Filter.Key k : s.keys()) {
            keys.add(new U32Key(k.mask(), k.value(), k.offset(), 0));
        }
        return new U32Sel(s.flags(), s.offshift(), s.offmask(), s.off(), s.offoff(), s.hoff(), s.hmask(), keys);
    }

    private static U32Node.Selector selector(U32Sel s) {
        List<U32Filter.Key> keys = new ArrayList<>(s.keys().size());
        for (U32Key k : s.keys()) {
            keys.add(new U32Filter.Key(k.mask(), k.val(), k.off()));
        }
        return new U32Node.Selector(s.flags(), s.offshift(), s.offmask(), s.off(), s.offoff(), s.hoff(), s.hmask(),
                keys);
    }

    /**
     * A u32 object from a filter dump, its kernel-given handles taken out: a table made by the kernel
     * for a priority (800: and up) is left out (null), and a key node in one is said to be in table 0.
     */
    public static U32Node decodeU32Node(Message msg) {
        TcMsg t = TcMsg.read(msg.family(TcMsg.LEN, "a tc filter message"));
        Attrs a = msg.attrs(TcMsg.LEN, Tc.TCA_MAX);
        if (!"u32".equals(a.string(Tc.TCA_KIND)) || !a.has(Tc.TCA_OPTIONS)) {
            return null;
        }
        Attrs o = a.nested(Tc.TCA_OPTIONS, Tc.TCA_U32_MAX);
        if (o.has(Tc.TCA_U32_DIVISOR)) {
            int htid = (int) (t.handle() >>> 20);
            return htid >= 0x800 ? null : U32Node.table(t.prio(), t.protocol(), htid, (int) o.u32(Tc.TCA_U32_DIVISOR));
        }
        if (!o.has(Tc.TCA_U32_SEL)) {
            return null;
        }
        int nkeys = U32Sel.nkeys(o.struct(Tc.TCA_U32_SEL, U32Sel.LEN, "u32 selector (TCA_U32_SEL)"));
        U32Sel sel = U32Sel.read(o.struct(Tc.TCA_U32_SEL, U32Sel.length(nkeys),
                "u32 selector with " + nkeys + " keys"));
        long hash = o.u32Or(Tc.TCA_U32_HASH, 0);
        int table = (int) (hash >>> 20);
        int bucket = (int) ((hash >>> 12) & 0xFF);
        if (table >= 0x800) {
            table = 0;
            bucket = 0;
        }
        return U32Node.key(t.prio(), t.protocol(), table, bucket, selector(sel), o.u32Or(Tc.TCA_U32_CLASSID, 0),
                (int) (o.u32Or(Tc.TCA_U32_LINK, 0) >>> 20));
    }

    /**
     * RTM_NEWTFILTER for a cls_bpf filter in classid mode (as `tc filter add ... prio P protocol all
     * bpf fd FD name NAME`): the program's return value is the class. {@code programFd} is an open
     * descriptor of the program in this process.
     */
    public static MessageWriter bpf(int flags, int ifindex, Handle parent, int prio, int protocol, int programFd,
                                    String name) {
        MessageWriter m = tcmsg(Tc.RTM_NEWTFILTER, flags, TcMsg.filter(ifindex, Handle.UNSPEC, parent, prio, protocol));
        m.attrString(Tc.TCA_KIND, "bpf");
        int opts = m.beginNest(Tc.TCA_OPTIONS);
        m.attrU32(Tc.TCA_BPF_FD, programFd);
        m.attrString(Tc.TCA_BPF_NAME, name);
        return m.endNest(opts);
    }

    /** A cls_bpf filter from a filter dump, or null for anything else (and for a chain's head without a program). */
    public static BpfFilter decodeBpf(Message msg) {
        TcMsg t = TcMsg.read(msg.family(TcMsg.LEN, "a tc filter message"));
        Attrs a = msg.attrs(TcMsg.LEN, Tc.TCA_MAX);
        if (!"bpf".equals(a.string(Tc.TCA_KIND)) || !a.has(Tc.TCA_OPTIONS)) {
            return null;
        }
        Attrs o = a.nested(Tc.TCA_OPTIONS, Tc.TCA_BPF_MAX);
        if (!o.has(Tc.TCA_BPF_ID) && !o.has(Tc.TCA_BPF_TAG)) {
            return null;
        }
        String tag = o.has(Tc.TCA_BPF_TAG) ? HexFormat.of().formatHex(o.bytes(Tc.TCA_BPF_TAG)) : null;
        return new BpfFilter(t.prio(), t.protocol(), o.has(Tc.TCA_BPF_NAME) ? o.string(Tc.TCA_BPF_NAME) : null, tag,
                o.u32Or(Tc.TCA_BPF_ID, 0), o.u32Or(Tc.TCA_BPF_FLAGS, 0));
    }

    // ---- what the kernel will read back -------------------------------------------------------

    /** The tbf the kernel will dump after being given {@code s} (tbf_change recomputes the bucket from BURST). */
    public TbfKernel predict(TbfSpec s) {
        long ns = new KernelRate(s.rate().bytesPerSecond(), s.overhead(), s.mpu()).lengthToNanos(s.burst().bytes());
        return new TbfKernel(s.rate().bytesPerSecond(), s.limit().bytes(), (ns >> Psched.TICK_NS_SHIFT) & 0xFFFFFFFFL,
                s.overhead(), s.mpu());
    }

    public HtbKernel predict(HtbSpec s, long directPackets) {
        return new HtbKernel(s.r2q(), s.defaultMinor(), s.directQlen(), directPackets);
    }

    public HtbClassKernel predict(HtbClassSpec c) {
        return new HtbClassKernel(c.rate().bytesPerSecond(), c.ceil().bytesPerSecond(),
                psched.xmitTicks(c.rate().bytesPerSecond(), c.burst().bytes()),
                psched.xmitTicks(c.ceil().bytesPerSecond(), c.cburst().bytes()),
                c.quantum(), Math.min(c.prio(), 7), c.overhead(), c.mpu());
    }

    // ---- decoding dumps -----------------------------------------------------------------------

    public static QdiscInfo decode(Message msg) {
        TcMsg t = TcMsg.read(msg.family(TcMsg.LEN, "a tc message"));
        Attrs a = msg.attrs(TcMsg.LEN, Tc.TCA_MAX);
        String kind = a.string(Tc.TCA_KIND);
        byte[] options = a.has(Tc.TCA_OPTIONS) ? a.bytes(Tc.TCA_OPTIONS) : null;
        return new QdiscInfo(t.ifindex(), t.handleAsHandle(), t.parentAsHandle(), kind, options,
                stats(a.nested(Tc.TCA_STATS2, Tc.TCA_STATS_PKT64)));
    }

    static Stats stats(Attrs s) {
        GnetStatsBasic basic = s.has(Tc.TCA_STATS_BASIC) ? GnetStatsBasic.read(s.struct(Tc.TCA_STATS_BASIC,
                GnetStatsBasic.LEN, "basic statistics (TCA_STATS_BASIC)")) : new GnetStatsBasic(0, 0);
        long packets = s.has(Tc.TCA_STATS_PKT64) ? s.u64(Tc.TCA_STATS_PKT64) : basic.packets();
        if (!s.has(Tc.TCA_STATS_QUEUE)) {
            return new Stats(basic.bytes(), packets, 0, 0, 0, 0, 0);
        }
        GnetStatsQueue q = GnetStatsQueue.read(s.struct(Tc.TCA_STATS_QUEUE, GnetStatsQueue.LEN,
                "queue statistics (TCA_STATS_QUEUE)"));
        return new Stats(basic.bytes(), packets, q.drops(), q.overlimits(), q.requeues(), q.backlog(), q.qlen());
    }

    private static Attrs options(byte[] options, int max) {
        ByteBuffer b = ByteBuffer.wrap(options).order(ByteOrder.nativeOrder());
        return Attrs.parse(b, 0, options.length, max);
    }

    public static TbfKernel decodeTbf(byte[] options) {
        Attrs a = options(options, Tc.TCA_TBF_MAX);
        TbfQopt q = TbfQopt.read(a.struct(Tc.TCA_TBF_PARMS, TbfQopt.LEN, "tbf parameters (TCA_TBF_PARMS)"));
        long rate = q.rate().rate();
        if (a.has(Tc.TCA_TBF_RATE64)) {
            rate = Math.max(rate, a.u64(Tc.TCA_TBF_RATE64));
        }
        return new TbfKernel(rate, q.limit(), q.buffer(), q.rate().overhead(), q.rate().mpu());
    }

    public static HtbKernel decodeHtb(byte[] options) {
        Attrs a = options(options, Tc.TCA_HTB_MAX);
        HtbGlob g = HtbGlob.read(a.struct(Tc.TCA_HTB_INIT, HtbGlob.LEN, "htb globals (TCA_HTB_INIT)"));
        return new HtbKernel(g.rate2quantum(), g.defcls(), a.u32Or(Tc.TCA_HTB_DIRECT_QLEN, 0), g.directPkts());
    }

    public static HtbClassKernel decodeHtbClass(byte[] options) {
        Attrs a = options(options, Tc.TCA_HTB_MAX);
        HtbOpt o = HtbOpt.read(a.struct(Tc.TCA_HTB_PARMS, HtbOpt.LEN, "htb class parameters (TCA_HTB_PARMS)"));
        long rate = o.rate().rate();
        long ceil = o.ceil().rate();
        if (a.has(Tc.TCA_HTB_RATE64)) {
            rate = Math.max(rate, a.u64(Tc.TCA_HTB_RATE64));
        }
        if (a.has(Tc.TCA_HTB_CEIL64)) {
            ceil = Math.max(ceil, a.u64(Tc.TCA_HTB_CEIL64));
        }
        return new HtbClassKernel(rate, ceil, o.buffer(), o.cbuffer(), o.quantum(), o.prio(), o.rate().overhead(),
                o.rate().mpu());
    }

    public static long decodeFifoLimit(byte[] options) {
        return options == null || options.length < 4 ? -1
                : Integer.toUnsignedLong(ByteBuffer.wrap(options).order(ByteOrder.nativeOrder()).getInt(0));
    }

    // ---- back to the model, for people ----------------------------------------------------------

    /** The burst a tbf holds: the smallest size whose kernel bucket time reaches the dumped ticks. */
    public static long tbfBurstBytes(TbfKernel k) {
        KernelRate kr = new KernelRate(k.rateBytes(), k.overhead(), k.mpu());
        long target = k.bufferTicks();
        long lo = 0;
        long hi = Math.min(1L << 33, kr.maxLength());
        while (lo < hi) {
            long mid = (lo + hi) >>> 1;
            if ((kr.lengthToNanos(mid) >> Psched.TICK_NS_SHIFT) >= target) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    /**
     * The burst an htb class holds: the smallest size whose ticks reach the dumped ticks. Ticks grow
     * with the size, so it gallops from tc's estimate to a size that reaches them and one that falls
     * short, then bisects: a few steps when the estimate is close, as it is at real rates. It used
     * to step one byte at a time from the estimate: at 10^16 bytes/s one tick is 640 million bytes,
     * and a class dumped with that ceil kept show busy for over a minute (found by Jazzer,
     * JazzerFuzzTestInputs/netlink/crash-a8b84a63...). Ticks that no size reaches give the bound.
     */
    public long htbBurstBytes(long rateBytes, long ticks) {
        long above = Math.max(0, psched.xmitSize(rateBytes, ticks));
        for (long step = 1; psched.xmitTicks(rateBytes, above) < ticks; step *= 2) {
            if (above >= MAX_BURST_SEARCH) {
                return MAX_BURST_SEARCH;
            }
            above = Math.min(MAX_BURST_SEARCH, above + step);
        }
        long below = above - 1;
        for (long step = 1; below >= 0 && psched.xmitTicks(rateBytes, below) >= ticks; step *= 2) {
            above = below;
            below = Math.max(-1, below - step);
        }
        while (above - below > 1) {
            long mid = below + (above - below) / 2;
            if (psched.xmitTicks(rateBytes, mid) >= ticks) {
                above = mid;
            } else {
                below = mid;
            }
        }
        return above;
    }

    /** Where htbBurstBytes stops looking: far past any burst (an exabyte). */
    private static final long MAX_BURST_SEARCH = 1L << 60;

    public TbfSpec toSpec(TbfKernel k) {
        return new TbfSpec(Rate.ofBytes(k.rateBytes()), Size.of(tbfBurstBytes(k)), Size.of(k.limit()), k.overhead(),
                k.mpu());
    }

    public HtbClassSpec toSpec(int minor, int parentMinor, HtbClassKernel k, long leafLimit) {
        return new HtbClassSpec(minor, parentMinor, Rate.ofBytes(k.rateBytes()), Rate.ofBytes(k.ceilBytes()),
                Size.of(htbBurstBytes(k.rateBytes(), k.bufferTicks())),
                Size.of(htbBurstBytes(k.ceilBytes(), k.cbufferTicks())), (int) k.prio(), (int) k.quantum(),
                k.overhead(), k.mpu(), leafLimit < 0 ? null : Size.of(leafLimit), null);
    }
}
