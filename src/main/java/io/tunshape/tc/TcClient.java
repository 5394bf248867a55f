package io.tunshape.tc;

import io.tunshape.netlink.Ack;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Nl;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Qdisc and class requests over one netlink socket; add, replace and change differ only in flags. */
public final class TcClient {
    public static final int ADD = Nl.F_REQUEST | Nl.F_ACK | Nl.F_CREATE | Nl.F_EXCL;
    public static final int REPLACE = Nl.F_REQUEST | Nl.F_ACK | Nl.F_CREATE | Nl.F_REPLACE;
    public static final int CHANGE = Nl.F_REQUEST | Nl.F_ACK;

    private final NetlinkSocket sock;
    private final TcCodec codec;

    public TcClient(NetlinkSocket sock, TcCodec codec) {
        this.sock = sock;
        this.codec = codec;
    }

    public TcCodec codec() {
        return codec;
    }

    public Ack send(MessageWriter m) {
        return sock.request(m);
    }

    /** Sends {@code ms} in one datagram, in order ({@link NetlinkSocket#requestBatch}); throws the first refusal. */
    public Ack sendAll(List<MessageWriter> ms) {
        return sock.requestBatch(ms);
    }

    /** As {@link #sendAll(List)}, for messages written back to back in {@code messages} (HtbRateTemplate's). */
    public Ack sendAll(ByteBuffer messages) {
        return sock.requestBatch(messages);
    }

    /** Every qdisc of the namespace (the kernel ignores the ifindex in a qdisc dump). */
    public List<QdiscInfo> qdiscs() {
        return decodeAll(sock.dump(TcCodec.tcmsg(Tc.RTM_GETQDISC, Nl.F_REQUEST | Nl.F_DUMP, 0, Handle.UNSPEC,
                Handle.UNSPEC)), Tc.RTM_NEWQDISC);
    }

    /**
     * The root qdisc of one device (one request, not a dump), or null when it has none to show
     * (noqueue). The kernel answers a qdisc get as a notification: to the TC group, and to the
     * requester only when asked with ECHO; ACK ends the answer when there is nothing to show.
     */
    public QdiscInfo root(int ifindex) {
        Message m = sock.get(TcCodec.tcmsg(Tc.RTM_GETQDISC, Nl.F_REQUEST | Nl.F_ACK | Nl.F_ECHO, ifindex, Handle.UNSPEC,
                Handle.ROOT));
        return m != null && m.type() == Tc.RTM_NEWQDISC ? TcCodec.decode(m) : null;
    }

    /** The classes of one device. */
    public List<QdiscInfo> classes(int ifindex) {
        return decodeAll(sock.dump(TcCodec.tcmsg(Tc.RTM_GETTCLASS, Nl.F_REQUEST | Nl.F_DUMP, ifindex, Handle.UNSPEC,
                Handle.UNSPEC)), Tc.RTM_NEWTCLASS);
    }

    /**
     * The filters under a parent, by kind, from one dump: the u32 objects of the match filters (below
     * {@link Tc#FLOW_FILTER_PRIO}; {@link U32Filter#recognise} reads them back), cls_bpf filters, and the
     * u32 objects at the flow classifier's priorities ({@link Tc#FLOW_FILTER_PRIO} and up: tunshape's
     * u32 flow hash, {@link U32FlowHash}), tables included.
     */
    public record Filters(List<U32Node> u32, List<BpfFilter> bpf, List<U32Node> u32Flow) {
    }

    public Filters filters(int ifindex, Handle parent) {
        List<U32Node> u32 = new ArrayList<>();
        List<BpfFilter> bpf = new ArrayList<>();
        List<U32Node> flow = new ArrayList<>();
        for (Message m : sock.dump(TcCodec.tcmsg(Tc.RTM_GETTFILTER, Nl.F_REQUEST | Nl.F_DUMP, ifindex, Handle.UNSPEC,
                parent))) {
            if (m.type() != Tc.RTM_NEWTFILTER) {
                continue;
            }
            U32Node n = TcCodec.decodeU32Node(m);
            if (n != null) {
                (n.prio() >= Tc.FLOW_FILTER_PRIO ? flow : u32).add(n);
                continue;
            }
            BpfFilter b = TcCodec.decodeBpf(m);
            if (b != null) {
                bpf.add(b);
            }
        }
        return new Filters(u32, bpf, flow);
    }

    private static List<QdiscInfo> decodeAll(List<Message> msgs, int type) {
        List<QdiscInfo> out = new ArrayList<>(msgs.size());
        for (Message m : msgs) {
            if (m.type() == type) {
                out.add(TcCodec.decode(m));
            }
        }
        return out;
    }
}
