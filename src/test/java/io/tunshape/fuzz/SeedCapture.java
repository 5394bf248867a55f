package io.tunshape.fuzz;

import io.tunshape.link.LinkClient;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.netlink.Nl;
import io.tunshape.tc.Handle;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcCodec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Writes the fuzz seeds in src/test/resources/fuzz/netlink-seeds.hex: real replies of this kernel
 * (link, qdisc, class and filter dumps of a device shaped with a profile that has classes and u32
 * filters), one message per line in hex. Run by hand, as root, in a namespace set up first:
 * {@code ip netns add seeds; ip -n seeds tuntap add dev t0 mode tun; ip -n seeds tuntap add dev p0 mode tap;
 * bin/tunshape --netns seeds apply t0 -p manet-80211a-olsr; bin/tunshape --netns seeds apply p0 --rate 1mbit},
 * then {@code java -cp target/classes:target/test-classes:$(cat cp.txt) io.tunshape.fuzz.SeedCapture seeds}.
 */
public final class SeedCapture {
    private SeedCapture() {
    }

    public static void main(String[] args) throws Exception {
        List<String> lines = Netns.run(args[0], () -> {
            List<String> out = new ArrayList<>();
            try (NetlinkSocket s = NetlinkSocket.open()) {
                MessageWriter links = new MessageWriter(LinkClient.RTM_GETLINK, Nl.F_REQUEST | Nl.F_DUMP);
                links.u8(0).u8(0).u16(0).u32(0).u32(0).u32(0);
                add(out, s.dump(links));
                add(out, s.dump(TcCodec.tcmsg(Tc.RTM_GETQDISC, Nl.F_REQUEST | Nl.F_DUMP, 0, Handle.UNSPEC, Handle.UNSPEC)));
                for (Message m : s.dump(links)) {
                    int ix = m.buffer().getInt(Nl.HDRLEN + 4);
                    add(out, s.dump(TcCodec.tcmsg(Tc.RTM_GETTCLASS, Nl.F_REQUEST | Nl.F_DUMP, ix, Handle.UNSPEC,
                            Handle.UNSPEC)));
                    add(out, s.dump(TcCodec.tcmsg(Tc.RTM_GETTFILTER, Nl.F_REQUEST | Nl.F_DUMP, ix, Handle.UNSPEC,
                            Handle.of(0x7474, 0))));
                }
            }
            return out;
        });
        Path p = Path.of("src/test/resources/fuzz/netlink-seeds.hex");
        Files.createDirectories(p.getParent());
        Files.write(p, lines);
        System.out.println(lines.size() + " messages in " + p);
    }

    private static void add(List<String> out, List<Message> ms) {
        for (Message m : ms) {
            out.add(HexFormat.of().formatHex(m.buffer().array()));
        }
    }
}
