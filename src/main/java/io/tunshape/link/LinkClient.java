package io.tunshape.link;

import io.tunshape.netlink.Attrs;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Nl;

import io.tunshape.link.LinkStructs.IfAddrMsg;
import io.tunshape.link.LinkStructs.IfInfoMsg;
import io.tunshape.link.LinkStructs.LinkStats64;

import java.util.ArrayList;
import java.util.List;

/** Interfaces of one namespace: list them, and set txqueuelen. */
public final class LinkClient {
    public static final int RTM_NEWLINK = 16;
    public static final int RTM_DELLINK = 17;
    public static final int RTM_GETLINK = 18;
    public static final int RTM_SETLINK = 19;
    static final int IFLA_IFNAME = 3;
    static final int IFLA_MTU = 4;
    static final int IFLA_TXQLEN = 13;
    static final int IFLA_OPERSTATE = 16;
    static final int IFLA_LINKINFO = 18;
    static final int IFLA_STATS64 = 23;
    static final int IFLA_MAX = 70;
    static final int IFLA_INFO_KIND = 1;
    static final int IFLA_INFO_DATA = 2;
    static final int IFLA_TUN_TYPE = 3;
    private static final String[] OPER = {"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"};

    private final NetlinkSocket sock;

    public LinkClient(NetlinkSocket sock) {
        this.sock = sock;
    }

    private static MessageWriter ifinfomsg(int type, int flags, IfInfoMsg h) {
        MessageWriter m = new MessageWriter(type, flags);
        h.write(m);
        return m;
    }

    /** Whether a message of this type is a link message (its family header an ifinfomsg). */
    public static boolean isLinkMessage(int type) {
        return type >= RTM_NEWLINK && type <= RTM_SETLINK;
    }

    public List<LinkInfo> links() {
        List<LinkInfo> out = new ArrayList<>();
        for (Message m : sock.dump(ifinfomsg(RTM_GETLINK, Nl.F_REQUEST | Nl.F_DUMP, IfInfoMsg.of(0)))) {
            if (m.type() == RTM_NEWLINK) {
                out.add(decode(m));
            }
        }
        return out;
    }

    /** One interface by index (RTM_GETLINK without dump). */
    public LinkInfo get(int index) {
        return decode(sock.get(ifinfomsg(RTM_GETLINK, Nl.F_REQUEST, IfInfoMsg.of(index))));
    }

    public static LinkInfo decode(Message m) {
        IfInfoMsg h = IfInfoMsg.of(m);
        Attrs a = m.attrs(IfInfoMsg.LEN, IFLA_MAX);
        String kind = "";
        Attrs info = a.nested(IFLA_LINKINFO, IFLA_INFO_DATA);
        if (info.has(IFLA_INFO_KIND)) {
            kind = info.string(IFLA_INFO_KIND);
            if (kind.equals("tun")) {
                Attrs data = info.nested(IFLA_INFO_DATA, IFLA_TUN_TYPE);
                if (data.has(IFLA_TUN_TYPE) && data.u8(IFLA_TUN_TYPE) == 2) {
                    kind = "tap";
                }
            }
        }
        int op = a.has(IFLA_OPERSTATE) ? a.u8(IFLA_OPERSTATE) : 0;
        LinkStats64 st = a.length(IFLA_STATS64) >= LinkStats64.LEN
                ? LinkStats64.read(a.struct(IFLA_STATS64, LinkStats64.LEN, "link counters (IFLA_STATS64)"))
                : new LinkStats64(0, 0, 0, 0, 0, 0, 0, 0);
        String name = a.string(IFLA_IFNAME);
        if (name == null) {
            throw new io.tunshape.netlink.MalformedMessageException("a link message without a name (IFLA_IFNAME)");
        }
        return new LinkInfo(h.index(), name, kind, h.type(), h.flags(), op < OPER.length ? OPER[op] : "unknown",
                (int) a.u32Or(IFLA_MTU, 0), a.u32Or(IFLA_TXQLEN, 0), st.txDropped(), st.txPackets(), st.txBytes());
    }

    /** Brings an interface up (RTM_NEWLINK with IFF_UP set and changed). */
    public void setUp(int index) {
        // IFF_UP (1), set and changed
        sock.request(ifinfomsg(RTM_NEWLINK, Nl.F_REQUEST | Nl.F_ACK, new IfInfoMsg(0, 0, index, 1, 1)));
    }

    /** Adds an IPv4 point-to-point address: {@code local} on the interface, {@code peer} at the other end. */
    public void addPeerAddress(int index, java.net.Inet4Address local, java.net.Inet4Address peer) {
        MessageWriter m = new MessageWriter(20 /* RTM_NEWADDR */, Nl.F_REQUEST | Nl.F_ACK | Nl.F_CREATE | Nl.F_EXCL);
        new IfAddrMsg(2 /* AF_INET */, 32, 0, 0, index).write(m);
        m.attr(2 /* IFA_LOCAL */, local.getAddress());
        m.attr(1 /* IFA_ADDRESS */, peer.getAddress());
        sock.request(m);
    }

    /** Sets the device's txqueuelen (tun's ring): the bytes `ip link set dev X txqueuelen N` sends. */
    public static MessageWriter txqueuelenMessage(int index, long txqueuelen) {
        return ifinfomsg(RTM_NEWLINK, Nl.F_REQUEST | Nl.F_ACK, IfInfoMsg.of(index)).attrU32(IFLA_TXQLEN, txqueuelen);
    }
}
