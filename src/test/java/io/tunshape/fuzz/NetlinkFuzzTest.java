package io.tunshape.fuzz;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.shape.DeviceState;
import io.tunshape.shape.Shaper;
import io.tunshape.shape.TreeCheck;
import io.tunshape.netlink.Ack;
import io.tunshape.netlink.Attrs;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkException;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Nl;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.U32Filter;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Netlink decoding on any bytes: datagram splitting, acks and extended acks, link and tc dumps and
 * events (the same decoders), qdisc options, u32 filters, nested attributes with lengths that lie.
 * Seeds ({@link #CORPUS}, shared with Jazzer): this kernel's real replies (see SeedCapture) and
 * tunshape's own requests, which have the dumps' layout. The one documented exception is
 * NetlinkException (MalformedMessageException for bad input).
 */
class NetlinkFuzzTest {
    static final List<byte[]> SEEDS = seeds();
    private static final TcCodec CODEC = new TcCodec(Psched.DEFAULT);

    /** The seeds' directory, also Jazzer's corpus for {@link JazzerFuzzTest#netlink}. */
    static final String CORPUS = "src/test/resources/io/tunshape/fuzz/JazzerFuzzTestInputs/netlink";

    /**
     * Every datagram of the corpus: this kernel's replies (kernel-*.bin, written by SeedCapture),
     * tunshape's own requests and acks (tunshape-*.bin, by {@link #synthetic}), and whatever Jazzer
     * found and kept there.
     */
    static List<byte[]> seeds() {
        return TextMutate.files(CORPUS);
    }

    /** tunshape's requests (the dumps' layout), acks with extended-ack TLVs, a DONE with an error, a multi-message datagram. */
    static List<byte[]> synthetic() {
        List<byte[]> out = new ArrayList<>();
        TcCodec c = new TcCodec(Psched.DEFAULT);
        out.add(c.tbf(TcClient.REPLACE, 3, Handle.of(0x7473, 0), Handle.ROOT,
                new TbfSpec(Rate.parse("100gbit"), Size.of(1_500_000), Size.of(3_000_000), 14, 64)).toBytes(1));
        HtbClassSpec cls = new HtbClassSpec(1, 0, Rate.parse("40gbit"), Rate.parse("40gbit"), Size.of(100_000),
                Size.of(100_000), 0, 200_000, 0, 0, Size.of(100_000), null);
        out.add(c.htb(TcClient.REPLACE, 3, Handle.of(0x7474, 0), Handle.ROOT,
                new HtbSpec(1, 10, 0, List.of(cls))).toBytes(2));
        out.add(c.htbClass(TcClient.ADD, 3, Handle.of(0x7474, 1), Handle.of(0x7474, 0), cls).toBytes(3));
        for (io.tunshape.tc.U32Node n : new U32Filter(1, U32Filter.ETH_P_IP, List.of(new U32Filter.Key(0xFC, 0xB8, 0),
                new U32Filter.Key(0xFFFF, 698, 20)), 10).nodes(0x7474)) {
            out.add(TcCodec.u32Node(TcClient.ADD, 3, Handle.of(0x7474, 0), n).toBytes(4));
        }
        out.add(errorAck(-22, "Invalid argument from the fuzzer", 36));
        out.add(errorAck(0, "a warning", -1));
        MessageWriter done = new MessageWriter(Nl.NLMSG_DONE, Nl.F_MULTI);
        done.u32(-95L & 0xFFFFFFFFL).attrString(Nl.NLMSGERR_ATTR_MSG, "dump failed");
        out.add(done.toBytes(5));
        // a datagram of several messages, as a dump sends them
        out.add(concat(out.get(0), out.get(1), out.get(out.size() - 1)));
        return out;
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += Nl.align(p.length);
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) {
            b.put(p).position(Nl.align(b.position()));
        }
        return b.array();
    }

    /** NLMSG_ERROR with a capped echo and extended-ack TLVs (message, offset). */
    private static byte[] errorAck(int error, String msg, int offs) {
        MessageWriter m = new MessageWriter(Nl.NLMSG_ERROR, Nl.F_CAPPED | Nl.F_ACK_TLVS);
        m.u32(error & 0xFFFFFFFFL);
        m.u32(36).u16(44).u16(5).u32(7).u32(99); // the request's header, capped
        m.attrString(Nl.NLMSGERR_ATTR_MSG, msg);
        if (offs >= 0) {
            m.attrU32(Nl.NLMSGERR_ATTR_OFFS, offs);
        }
        return m.toBytes(6);
    }

    @Provide
    Arbitrary<byte[]> datagrams() {
        return Mutate.from(SEEDS, 512);
    }

    /** Everything tunshape reads out of one datagram, as its socket, dumps, events and show read it. */
    static void decodeAll(byte[] datagram) {
        ByteBuffer rx = ByteBuffer.allocateDirect(Math.max(1, datagram.length)).order(ByteOrder.nativeOrder());
        rx.put(datagram).clear();
        for (Message m : Message.split(rx, datagram.length)) {
            m.type();
            m.flags();
            m.seq();
            m.pid();
            if (m.type() == Nl.NLMSG_ERROR) {
                Ack.of(m);
                continue;
            }
            decodeAs(m);
        }
    }

    private static void decodeAs(Message m) {
        // every decoder on every message: a lying type must not reach a decoder unprepared
        try {
            LinkClient.decode(m);
        } catch (NetlinkException e) {
            // documented; go on with the others
        }
        try {
            TcCodec.decodeU32Node(m);
        } catch (NetlinkException e) {
            // documented
        }
        try {
            io.tunshape.tc.BpfFilter f = TcCodec.decodeBpf(m);
            if (f != null) {
                f.flowProgram();
            }
        } catch (NetlinkException e) {
            // documented
        }
        QdiscInfo q = TcCodec.decode(m);
        if (q.options() != null) {
            decodeOptions(q.options());
        }
    }

    private static final Shaper SHAPER = new Shaper(new TcClient(null, CODEC), null);
    private static final LinkInfo LINK = new LinkInfo(3, "t0", "tun", 65534, 0, "down", 1500, 500, 0, 0, 0);

    /** Options as apply reads them (the raw decoders) and as show reads them (the view and the tree check). */
    static void decodeOptions(byte[] o) {
        for (Runnable r : new Runnable[] {() -> TcCodec.decodeTbf(o), () -> TcCodec.decodeHtb(o),
            () -> TcCodec.decodeHtbClass(o), () -> TcCodec.decodeFifoLimit(o)}) {
            try {
                r.run();
            } catch (NetlinkException e) {
                // documented
            }
        }
        for (String kind : new String[] {"tbf", "htb"}) {
            Handle h = Handle.of(kind.equals("tbf") ? io.tunshape.tc.TreeLayout.TBF_MAJOR : io.tunshape.tc.TreeLayout.HTB_MAJOR, 0);
            QdiscInfo root = new QdiscInfo(3, h, Handle.ROOT, kind, o, null);
            QdiscInfo cls = new QdiscInfo(3, Handle.of(io.tunshape.tc.TreeLayout.HTB_MAJOR, 1), Handle.ROOT, "htb", o, null);
            QdiscInfo leaf = new QdiscInfo(3, io.tunshape.tc.TreeLayout.leafHandle(1), cls.handle(), "bfifo", o, null);
            DeviceState d = new DeviceState(LINK, root, List.of(cls), List.of(leaf), List.of(), List.of(), List.of());
            SHAPER.view(d);
            TreeCheck.missing(d);
        }
    }

    @Property
    void datagramsDecodeOrThrowOnlyNetlinkException(@ForAll("datagrams") byte[] d) {
        Fuzz.check("netlink.datagram", d, 64, () -> decodeAll(d), NetlinkException.class);
    }

    @Provide
    Arbitrary<byte[]> optionBlobs() {
        List<byte[]> opts = new ArrayList<>();
        for (byte[] s : SEEDS) {
            try {
                ByteBuffer rx = ByteBuffer.wrap(s).order(ByteOrder.nativeOrder());
                for (Message m : Message.split(rx, s.length)) {
                    QdiscInfo q = TcCodec.decode(m);
                    if (q.options() != null) {
                        opts.add(q.options());
                    }
                }
            } catch (RuntimeException e) {
                // not a tc message
            }
        }
        return Mutate.from(opts, 256);
    }

    /** TCA_OPTIONS alone (tbf, htb, htb class, bfifo): nested attributes whose lengths lie. */
    @Property
    void qdiscOptionsDecodeOrThrowOnlyNetlinkException(@ForAll("optionBlobs") byte[] o) {
        Fuzz.check("netlink.tc-options", o, 64, () -> decodeOptions(o), NetlinkException.class);
    }

    /** Attributes parsed at any level with any bounds stay within their bounds. */
    @Property
    void attributesNeverReadOutsideTheirBounds(@ForAll("datagrams") byte[] d) {
        Fuzz.check("netlink.attrs", d, 64, () -> readAllAttributes(d), NetlinkException.class);
    }

    /** Every attribute of the bytes after a 20-byte header, and every one nested in it, read every way. */
    static void readAllAttributes(byte[] d) {
        {
            ByteBuffer b = ByteBuffer.wrap(d).order(ByteOrder.nativeOrder());
            Attrs a = Attrs.parse(b, Math.min(d.length, 20), d.length, 30);
            for (int t = 0; t <= 30; t++) {
                if (a.has(t)) {
                    int from = a.offset(t);
                    int to = from + a.length(t);
                    if (from < Math.min(d.length, 20) || to > d.length) {
                        throw new AssertionError("attribute " + t + " at [" + from + ", " + to + ") outside");
                    }
                    a.string(t);
                    a.bytes(t);
                    Attrs n = a.nested(t, 30);
                    for (int u = 0; u <= 30; u++) {
                        if (n.has(u) && (n.offset(u) < from || n.offset(u) + n.length(u) > to)) {
                            throw new AssertionError("nested " + u + " outside its parent " + t);
                        }
                    }
                    a.u32Or(t, 0);
                    try {
                        a.u8(t);
                        a.u32(t);
                        a.u64(t);
                    } catch (NetlinkException e) {
                        // documented: shorter than its type
                    }
                }
            }
        }
    }

    @AfterContainer
    static void summary() {
        System.out.println("fuzz: inputs tried " + Fuzz.summary());
    }
}
