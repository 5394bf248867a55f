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
import java.util.List;

/**
 * Writes the netlink fuzz seeds into {@link NetlinkFuzzTest#CORPUS} (jqwik's seeds and Jazzer's
 * corpus): real replies of this kernel (link, qdisc, class and filter dumps of a device shaped with
 * a profile that has classes and u32 filters) as kernel-NN.bin, one message a file, and tunshape's
 * own requests and acks ({@link NetlinkFuzzTest#synthetic}) as tunshape-NN.bin. Run by hand, as
 * root, in a namespace set up first:
 * {@code ip netns add seeds; ip -n seeds tuntap add dev t0 mode tun; ip -n seeds tuntap add dev p0 mode tap;
 * bin/tunshape --netns seeds apply t0 -p manet-80211a-olsr; bin/tunshape --netns seeds apply p0 --rate 1mbit},
 * then {@code java -cp target/classes:target/test-classes:$(cat cp.txt) io.tunshape.fuzz.SeedCapture seeds}
 * ({@code SeedCapture --tunshape-only} writes only tunshape's, without root).
 */
public final class SeedCapture {
    private SeedCapture() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(NetlinkFuzzTest.CORPUS);
        Files.createDirectories(dir);
        List<byte[]> own = NetlinkFuzzTest.synthetic();
        for (int i = 0; i < own.size(); i++) {
            Files.write(dir.resolve(String.format("tunshape-%02d.bin", i + 1)), own.get(i));
        }
        if (args[0].equals("--tunshape-only")) {
            System.out.println(own.size() + " of tunshape's messages in " + dir);
            return;
        }
        List<byte[]> replies = Netns.run(args[0], () -> {
            List<byte[]> out = new ArrayList<>();
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
        for (int i = 0; i < replies.size(); i++) {
            Files.write(dir.resolve(String.format("kernel-%02d.bin", i + 1)), replies.get(i));
        }
        System.out.println(replies.size() + " replies and " + own.size() + " of tunshape's messages in " + dir);
    }

    private static void add(List<byte[]> out, List<Message> ms) {
        for (Message m : ms) {
            out.add(m.buffer().array());
        }
    }
}
