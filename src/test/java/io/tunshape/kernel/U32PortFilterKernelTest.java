package io.tunshape.kernel;

import io.tunshape.netlink.Netns;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.TunReader;
import io.tunshape.tun.TunDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A profile's port match ({@code match: {protocol: udp, dport: N}}) finds the ports by the IPv4
 * header's length: UDP sent with IP options (a longer header) lands in the matching class as it does
 * without, and another port does not (issue 21). The oracle is the kernel's class counters
 * ({@code tc -s class show}). A tun device, drained by a reader, carries them through the qdisc.
 */
class U32PortFilterKernelTest {
    private static final String PROFILE = """
            name: ports
            description: a port class beside the default one
            source: test
            link:
              rate: 10mbit
              mtu: 1500
            shaping:
              qdisc: htb
              mode: latency
              latency: 500ms
              classes:
                - name: game
                  rate: 5mbit
                  prio: 0
                  match: {protocol: udp, dport: 5001}
                - name: bulk
                  rate: 5mbit
                  prio: 1
                  default: true
            """;

    /** Sends {@code n} UDP datagrams to 198.18.0.2:port, with four bytes of IP options (NOP NOP NOP EOL) when asked. */
    private static final String SENDER = """
            import socket, sys
            port, n, opts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == 'options'
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if opts:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([1, 1, 1, 0]))
                assert len(s.getsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, 40)) == 4
            for i in range(n):
                s.sendto(b'x' * 32, ('198.18.0.2', port))
            print('sent', n)
            """;

    @Test
    void portClassesFollowTheIpv4HeaderLengthWithAndWithoutOptions(@TempDir Path dir) throws Exception {
        Path profile = dir.resolve("ports.yaml");
        Files.writeString(profile, PROFILE);
        Path sender = dir.resolve("send.py");
        Files.writeString(sender, SENDER);
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("d0");
            // no IPv6 on d0: router solicitations would mix with the test's packets
            ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.d0.disable_ipv6=1"));
            try (TunDevice dev = Netns.run(ns.name(), () -> TunDevice.open("d0", false));
                 TunReader reader = new TunReader(dev, 0, 0)) {
                ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", "d0");
                ns.ip("link", "set", "d0", "up");
                run(ns, profile, sender);
                // every datagram left through the device, where the reader drained it: the 4 x 10 sent
                for (int i = 0; i < 40 && reader.arrivals().size() < 40; i++) {
                    Thread.sleep(50);
                }
                assertTrue(reader.arrivals().stream().filter(a -> a.length() == 60 || a.length() == 64).count() >= 40,
                        "arrivals: " + reader.arrivals().size());
            }
        }
    }

    private static void run(KernelNs ns, Path profile, Path sender) throws InterruptedException {
        CliRun r = CliRun.of("--netns", ns.name(), "apply", "d0", "-p", profile.toString());
        assertEquals(0, r.status(), r.toString());
        // the port filter is a tree: a node that moves on by the IHL and links to a table of its own
        String filters = ns.tc("filter", "show", "dev", "d0");
        assertTrue(filters.contains("offset 0f00>>6 at 0") || filters.contains("offset 0f00>>6"), filters);

        sendAndCount(ns, sender, 5001, "plain", 10, 10, 0);
        sendAndCount(ns, sender, 5001, "options", 10, 10, 0);
        sendAndCount(ns, sender, 5002, "options", 10, 0, 10);
        sendAndCount(ns, sender, 5002, "plain", 10, 0, 10);

        CliRun again = CliRun.of("--netns", ns.name(), "--json", "apply", "d0", "-p", profile.toString());
        assertTrue(again.out().contains("\"changed\" : false") || again.out().contains("\"changed\":false"),
                "idempotent: " + again.out());
    }

    /** Sends, then checks how many packets each class gained: the port class exactly, the default at least. */
    private static void sendAndCount(KernelNs ns, Path sender, int port, String how, int n, int toGame, int toBulk)
            throws InterruptedException {
        long[] before = packets(ns);
        String out = ns.exec(List.of("python3", sender.toString(), Integer.toString(port), Integer.toString(n), how));
        assertTrue(out.contains("sent " + n), out);
        // the qdisc sends them within a millisecond at 10mbit; allow a loaded machine two seconds
        long[] after = packets(ns);
        for (int i = 0; i < 40 && after[0] - before[0] + after[1] - before[1] < n; i++) {
            Thread.sleep(50);
            after = packets(ns);
        }
        String what = n + " datagrams to port " + port + " (" + how + ")";
        assertEquals(toGame, after[0] - before[0], what + ": the port class 7474:10\n" + ns.tc("-s", "class", "show",
                "dev", "d0"));
        // the default class may also see the kernel's own IPv6 chatter: at least the datagrams sent there
        assertTrue(after[1] - before[1] >= toBulk, what + ": the default class 7474:11\n" + ns.tc("-s", "class",
                "show", "dev", "d0"));
    }

    private static final Pattern CLASS = Pattern.compile("class htb 7474:(1[01]) [^\\n]*\\n\\s*Sent \\d+ bytes (\\d+) pkt");

    /** Packets sent by the classes 7474:10 and 7474:11. */
    private static long[] packets(KernelNs ns) {
        String s = ns.tc("-s", "class", "show", "dev", "d0");
        long[] out = {-1, -1};
        Matcher m = CLASS.matcher(s);
        while (m.find()) {
            out[m.group(1).equals("10") ? 0 : 1] = Long.parseLong(m.group(2));
        }
        assertTrue(out[0] >= 0 && out[1] >= 0, s);
        return out;
    }
}
