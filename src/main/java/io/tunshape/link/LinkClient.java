package io.tunshape.link;

import io.tunshape.netlink.Attrs;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Nl;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Interfaces of one namespace: list them, and set txqueuelen. */
public final class LinkClient {
    public static final int RTM_NEWLINK = 16;
    public static final int RTM_DELLINK = 17;
    public static final int RTM_GETLINK = 18;
    static final int IFINFOMSG_LEN = 16;
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

    static MessageWriter ifinfomsg(int type, int flags, int index) {
        MessageWriter m = new MessageWriter(type, flags);
        m.u8(0).u8(0).u16(0).u32(index).u32(0).u32(0);
        return m;
    }

    public List<LinkInfo> links() {
        List<LinkInfo> out = new ArrayList<>();
        for (Message m : sock.dump(ifinfomsg(RTM_GETLINK, Nl.F_REQUEST | Nl.F_DUMP, 0))) {
            if (m.type() == RTM_NEWLINK) {
                out.add(decode(m));
            }
        }
        return out;
    }

    /** One interface by index (RTM_GETLINK without dump). */
    public LinkInfo get(int index) {
        return decode(sock.get(ifinfomsg(RTM_GETLINK, Nl.F_REQUEST, index)));
    }

    public static LinkInfo decode(Message m) {
        m.requireFamily(IFINFOMSG_LEN, "a link message");
        ByteBuffer b = m.buffer();
        int type = Short.toUnsignedInt(b.getShort(Nl.HDRLEN + 2));
        int index = b.getInt(Nl.HDRLEN + 4);
        int flags = b.getInt(Nl.HDRLEN + 8);
        Attrs a = m.attrs(IFINFOMSG_LEN, IFLA_MAX);
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
        long txPackets = 0;
        long txBytes = 0;
        long txDropped = 0;
        if (a.length(IFLA_STATS64) >= 64) {
            int o = a.offset(IFLA_STATS64);
            txPackets = b.getLong(o + 8);
            txBytes = b.getLong(o + 24);
            txDropped = b.getLong(o + 56);
        }
        String name = a.string(IFLA_IFNAME);
        if (name == null) {
            throw new io.tunshape.netlink.MalformedMessageException("a link message without a name (IFLA_IFNAME)");
        }
        return new LinkInfo(index, name, kind, type, flags, op < OPER.length ? OPER[op] : "unknown",
                (int) a.u32Or(IFLA_MTU, 0), a.u32Or(IFLA_TXQLEN, 0), txDropped, txPackets, txBytes);
    }

    /** Brings an interface up (RTM_NEWLINK with IFF_UP set and changed). */
    public void setUp(int index) {
        MessageWriter m = new MessageWriter(RTM_NEWLINK, Nl.F_REQUEST | Nl.F_ACK);
        m.u8(0).u8(0).u16(0).u32(index).u32(1).u32(1);
        sock.request(m);
    }

    /** Adds an IPv4 point-to-point address: {@code local} on the interface, {@code peer} at the other end. */
    public void addPeerAddress(int index, java.net.Inet4Address local, java.net.Inet4Address peer) {
        MessageWriter m = new MessageWriter(20 /* RTM_NEWADDR */, Nl.F_REQUEST | Nl.F_ACK | Nl.F_CREATE | Nl.F_EXCL);
        m.u8(2 /* AF_INET */).u8(32).u8(0).u8(0).u32(index);
        m.attr(2 /* IFA_LOCAL */, local.getAddress());
        m.attr(1 /* IFA_ADDRESS */, peer.getAddress());
        sock.request(m);
    }

    /** Sets the device's txqueuelen (tun's ring): the bytes `ip link set dev X txqueuelen N` sends. */
    public static MessageWriter txqueuelenMessage(int index, long txqueuelen) {
        return ifinfomsg(RTM_NEWLINK, Nl.F_REQUEST | Nl.F_ACK, index).attrU32(IFLA_TXQLEN, txqueuelen);
    }
}
