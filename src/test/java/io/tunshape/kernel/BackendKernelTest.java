package io.tunshape.kernel;

import io.tunshape.netlink.Netns;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * exec, serial (over a pty pair) and tcp KISS backends carry frames byte for byte both ways,
 * including bytes that need escaping. Frames toward the device are built here by hand (an IPv4/UDP
 * packet to a socket in the namespace); frames from the device are datagrams sent to 198.18.0.2.
 */
class BackendKernelTest {
    private static final HexFormat HEX = HexFormat.ofDelimiter(" ");
    /** A payload full of SLIP/KISS special bytes. */
    private static final byte[] TRICKY = HEX.parseHex("c0 db dc dd c0 c0 db db 00 ff c0 dc");

    /** A namespace with tun t0 (198.18.0.1, peer .2) and a UDP socket on 198.18.0.1:9999. */
    private static final class Lab implements AutoCloseable {
        final KernelNs ns = KernelNs.create();
        DatagramSocket rx;
        PumpProcess pump;

        Lab() throws Exception {
            ns.tun("t0");
            ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.t0.disable_ipv6=1"));
            ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", "t0");
        }

        void start(String... pumpArgs) throws Exception {
            String[] args = new String[pumpArgs.length + 5];
            System.arraycopy(new String[] {"--netns", ns.name(), "pump", "--dev", "t0"}, 0, args, 0, 5);
            System.arraycopy(pumpArgs, 0, args, 5, pumpArgs.length);
            pump = new PumpProcess(args);
            assertTrue(pump.await("moving frames", 15_000), pump.lines().toString());
            ns.ip("link", "set", "t0", "up");
            rx = Netns.run(ns.name(), () -> new DatagramSocket(new InetSocketAddress("198.18.0.1", 9999)));
            rx.setSoTimeout(5000);
        }

        /** Sends TRICKY from the namespace out through t0 to 198.18.0.2:9. */
        void sendOut() throws Exception {
            try (DatagramSocket s = Netns.run(ns.name(), DatagramSocket::new)) {
                s.send(new DatagramPacket(TRICKY, TRICKY.length, InetAddress.getByName("198.18.0.2"), 9));
            }
        }

        /** The payload of the next datagram that reached 198.18.0.1:9999 through the pump. */
        byte[] receive() throws Exception {
            DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
            rx.receive(p);
            return Arrays.copyOf(p.getData(), p.getLength());
        }

        @Override
        public void close() {
            if (pump != null) {
                pump.close();
            }
            if (rx != null) {
                rx.close();
            }
            ns.close();
        }
    }

    /** An IPv4/UDP packet 198.18.0.2:7 -> 198.18.0.1:9999 carrying {@code payload}, checksummed. */
    static byte[] inbound(byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(28 + payload.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (28 + payload.length)).putShort((short) 0x1234)
                .putShort((short) 0x4000).put((byte) 64).put((byte) 17).putShort((short) 0)
                .put(new byte[] {(byte) 198, 18, 0, 2}).put(new byte[] {(byte) 198, 18, 0, 1});
        int sum = 0;
        for (int i = 0; i < 20; i += 2) {
            sum += ((b.get(i) & 0xFF) << 8) | (b.get(i + 1) & 0xFF);
        }
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        b.putShort(10, (short) ~sum);
        b.putShort((short) 7).putShort((short) 9999).putShort((short) (8 + payload.length)).putShort((short) 0);
        b.put(payload);
        return b.array();
    }

    /** SLIP escaping written out plainly, as the oracle for the pump's framing. */
    static byte[] escape(byte[] frame, boolean kiss) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0xC0);
        if (kiss) {
            o.write(0x00);
        }
        for (byte x : frame) {
            int v = x & 0xFF;
            if (v == 0xC0) {
                o.write(0xDB);
                o.write(0xDC);
            } else if (v == 0xDB) {
                o.write(0xDB);
                o.write(0xDD);
            } else {
                o.write(v);
            }
        }
        o.write(0xC0);
        return o.toByteArray();
    }

    /** Reads from {@code in} until {@code needle} has appeared (or 5 s). */
    static byte[] readUntil(InputStream in, byte[] needle) throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        long end = System.currentTimeMillis() + 5000;
        while (System.currentTimeMillis() < end) {
            if (in.available() > 0 || !(in instanceof FileInputStream)) {
                int n = in.read(buf);
                if (n < 0) {
                    break;
                }
                got.write(buf, 0, n);
                if (indexOf(got.toByteArray(), needle) >= 0) {
                    break;
                }
            } else {
                Thread.sleep(20);
            }
        }
        return got.toByteArray();
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void execDriverGetsAndGivesLengthPrefixedFrames(@TempDir Path dir) throws Exception {
        Path in = dir.resolve("to-device.bin");
        Path out = dir.resolve("from-device.bin");
        byte[] frame = inbound(TRICKY);
        ByteBuffer lp = ByteBuffer.allocate(2 + frame.length).putShort((short) frame.length).put(frame);
        Files.write(in, lp.array());
        try (Lab lab = new Lab()) {
            // the driver waits a moment so that t0 is up and the socket bound before its frame arrives
            // (sh gives a background job /dev/null for stdin, so the recording cat runs in the foreground)
            lab.start("--backend", "exec:(sleep 1.5; cat " + in + ") & cat > " + out);
            assertArrayEquals(TRICKY, lab.receive(), "the driver's frame reached the socket byte for byte");
            lab.sendOut();
            long end = System.currentTimeMillis() + 5000;
            byte[] got = new byte[0];
            while (System.currentTimeMillis() < end && indexOf(got, TRICKY) < 0) {
                Thread.sleep(50);
                got = Files.readAllBytes(out);
            }
            // one record: a 2-byte length, then an IPv4 packet of that length ending in the payload
            int len = ((got[0] & 0xFF) << 8) | (got[1] & 0xFF);
            assertEquals(28 + TRICKY.length, len, HEX.formatHex(got));
            assertEquals(0x45, got[2] & 0xFF);
            assertArrayEquals(TRICKY, Arrays.copyOfRange(got, 2 + 28, 2 + len));
            assertEquals(0, lab.pump.stop(), lab.pump.lines().toString());
        }
    }

    @Test
    void serialLineOverAPtyCarriesSlipAndKiss() throws Exception {
        for (String framing : new String[] {"slip", "kiss"}) {
            String a = "/tmp/tsA" + ProcessHandle.current().pid() + framing;
            String b = "/tmp/tsB" + ProcessHandle.current().pid() + framing;
            Process socat = new ProcessBuilder("socat", "pty,raw,echo=0,link=" + a, "pty,raw,echo=0,link=" + b)
                    .redirectErrorStream(true).start();
            try (Lab lab = new Lab()) {
                long end = System.currentTimeMillis() + 5000;
                while (!(Files.exists(Path.of(a)) && Files.exists(Path.of(b))) && System.currentTimeMillis() < end) {
                    Thread.sleep(20);
                }
                lab.start("--backend", "serial:" + a, "--baud", "115200", "--framing", framing);
                boolean kiss = framing.equals("kiss");
                try (FileInputStream line = new FileInputStream(b); OutputStream w = new FileOutputStream(b)) {
                    w.write(escape(inbound(TRICKY), kiss));
                    w.flush();
                    assertArrayEquals(TRICKY, lab.receive(), framing + ": frame from the line reached the socket");
                    lab.sendOut();
                    byte[] wire = readUntil(line, escape(TRICKY, false).length > 0 ? Arrays.copyOfRange(
                            escape(TRICKY, false), 1, escape(TRICKY, false).length) : TRICKY);
                    // on the line: END [0x00 for KISS] 45 ... then the escaped payload and END
                    int start = indexOf(wire, kiss ? new byte[] {(byte) 0xC0, 0x00, 0x45} : new byte[] {(byte) 0xC0, 0x45});
                    assertTrue(start >= 0, framing + ": " + HEX.formatHex(wire));
                    assertTrue(indexOf(wire, Arrays.copyOfRange(escape(TRICKY, false), 1, escape(TRICKY, false).length))
                            > start, framing + ": escaped payload then END on the line: " + HEX.formatHex(wire));
                }
                assertEquals(0, lab.pump.stop(), lab.pump.lines().toString());
            } finally {
                socat.destroy();
            }
        }
    }

    @Test
    void tcpKissTncCarriesFramesBothWays() throws Exception {
        try (Lab lab = new Lab()) {
            lab.ns.ip("link", "set", "lo", "up");
            try (ServerSocket tnc = Netns.run(lab.ns.name(), () -> new ServerSocket(8001, 1,
                    InetAddress.getByName("127.0.0.1")))) {
                tnc.setSoTimeout(10_000);
                lab.start("--backend", "tcp:127.0.0.1:8001", "--framing", "kiss");
                try (Socket s = tnc.accept()) {
                    s.getOutputStream().write(escape(inbound(TRICKY), true));
                    assertArrayEquals(TRICKY, lab.receive(), "frame from the TNC reached the socket");
                    lab.sendOut();
                    byte[] tail = Arrays.copyOfRange(escape(TRICKY, false), 1, escape(TRICKY, false).length);
                    s.setSoTimeout(5000);
                    byte[] wire = readUntil(s.getInputStream(), tail);
                    assertTrue(indexOf(wire, new byte[] {(byte) 0xC0, 0x00, 0x45}) >= 0, HEX.formatHex(wire));
                    assertTrue(indexOf(wire, tail) > 0, HEX.formatHex(wire));
                }
                assertEquals(0, lab.pump.stop(), lab.pump.lines().toString());
            }
        }
    }

    @Test
    void aDeletedDeviceEndsThePumpWithStatusOne() throws Exception {
        try (Lab lab = new Lab()) {
            lab.start("--backend", "sink");
            lab.ns.ip("link", "del", "t0");
            assertEquals(1, lab.pump.waitFor(10_000), lab.pump.lines().toString());
            assertTrue(lab.pump.lines().stream().anyMatch(l -> l.contains("went away")), lab.pump.lines().toString());
        }
    }

    @Test
    void aUdpPeerThatIsNotThereIsSaidOnceAndFoundWhenItComes() throws Exception {
        try (Lab lab = new Lab()) {
            // nobody on 127.0.0.1:7100 yet: the kernel answers with ICMP port unreachable
            lab.ns.ip("link", "set", "lo", "up");
            lab.start("--backend", "udp:127.0.0.1:7100", "--listen", "127.0.0.1:7101");
            for (int i = 0; i < 5; i++) {
                lab.sendOut();
                Thread.sleep(300);
            }
            List<String> lines = lab.pump.lines();
            assertEquals(1, lines.stream().filter(l -> l.contains("is down")).count(), "one line: " + lines);
            assertTrue(lines.stream().anyMatch(l -> l.contains("Connection refused")), lines.toString());
            assertTrue(lab.pump.isAlive(), "the pump stays");
            try (DatagramSocket peer = Netns.run(lab.ns.name(), () -> new DatagramSocket(
                    new InetSocketAddress("127.0.0.1", 7100)))) {
                peer.setSoTimeout(1000);
                byte[] got = null;
                for (int i = 0; i < 12 && got == null; i++) {
                    lab.sendOut(); // the pump retries with backoff; frames before that are dropped
                    DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
                    try {
                        peer.receive(p);
                        got = Arrays.copyOf(p.getData(), p.getLength());
                    } catch (java.net.SocketTimeoutException e) {
                        // not yet
                    }
                }
                assertTrue(got != null, "a frame reached the peer once it listened: " + lab.pump.lines());
                assertArrayEquals(TRICKY, Arrays.copyOfRange(got, 28, got.length), "the IP packet, whole");
                // frames from the peer reach the device, and hearing from it ends the outage
                byte[] in = inbound(TRICKY);
                peer.send(new DatagramPacket(in, in.length, new InetSocketAddress("127.0.0.1", 7101)));
                assertArrayEquals(TRICKY, lab.receive());
                assertTrue(lab.pump.await("is up again", 5000), lab.pump.lines().toString());
                assertEquals(1, lab.pump.lines().stream().filter(l -> l.contains("is down")).count(),
                        "still one line for the outage: " + lab.pump.lines());
            }
            assertEquals(0, lab.pump.stop());
        }
    }

    @Test
    void aBackendThatIsDownIsSaidOnceAndRetried() throws Exception {
        try (Lab lab = new Lab()) {
            // a TNC port nobody listens on: connection refused, retried with backoff
            lab.ns.ip("link", "set", "lo", "up");
            lab.start("--backend", "tcp:127.0.0.1:8002", "--framing", "kiss");
            for (int i = 0; i < 5; i++) {
                lab.sendOut();
                Thread.sleep(400);
            }
            long down = lab.pump.lines().stream().filter(l -> l.contains("is down")).count();
            assertEquals(1, down, "one clear line per outage: " + lab.pump.lines());
            assertTrue(lab.pump.isAlive(), "the pump stays");
            try (ServerSocket tnc = Netns.run(lab.ns.name(), () -> new ServerSocket(8002, 1,
                    InetAddress.getByName("127.0.0.1")))) {
                tnc.setSoTimeout(10_000);
                try (Socket s = tnc.accept()) {
                    lab.sendOut();
                    s.setSoTimeout(5000);
                    byte[] tail = Arrays.copyOfRange(escape(TRICKY, false), 1, escape(TRICKY, false).length);
                    assertTrue(indexOf(readUntil(s.getInputStream(), tail), tail) >= 0);
                    assertTrue(lab.pump.await("is up again", 5000), lab.pump.lines().toString());
                }
            }
            assertEquals(0, lab.pump.stop());
        }
    }
}
