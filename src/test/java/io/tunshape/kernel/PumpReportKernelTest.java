package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.sys.Fd;
import io.tunshape.sys.Sys;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pump's reports reach a listening socket in the protocol's shape, and an idle pump stays idle. */
class PumpReportKernelTest {
    @Test
    void reportsCarryTheContractFields() throws Exception {
        Path sockPath = Files.createTempDirectory("tsrep").resolve("report.sock");
        Fd listener = Sys.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */ | Sys.SOCK_CLOEXEC, 0);
        byte[] p = sockPath.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer addr = ByteBuffer.allocateDirect(2 + p.length + 1).order(ByteOrder.nativeOrder());
        addr.putShort((short) 1).put(p).put((byte) 0).flip();
        Sys.bind(listener, addr);
        try (KernelNs ns = KernelNs.create(); listener) {
            ns.tun("t0");
            ns.exec(List.of("sysctl", "-q", "-w", "net.ipv6.conf.t0.disable_ipv6=1"));
            ns.ip("addr", "add", "198.18.0.1", "peer", "198.18.0.2", "dev", "t0");
            try (PumpProcess pump = new PumpProcess("--netns", ns.name(), "pump", "--dev", "t0", "--backend", "sink",
                    "--emulate-rate", "100kbit", "--report", sockPath.toString(), "--report-interval", "500ms")) {
                assertTrue(pump.await("moving frames", 15_000), pump.lines().toString());
                ns.ip("link", "set", "t0", "up");
                try (DatagramSocket s = Netns.run(ns.name(), DatagramSocket::new)) {
                    byte[] b = new byte[1000];
                    for (int i = 0; i < 60; i++) { // 60 kB: about 5 s at 100 kbit/s
                        s.send(new DatagramPacket(b, b.length, InetAddress.getByName("198.18.0.2"), 9));
                    }
                }
                List<JsonNode> reports = new ArrayList<>();
                ByteBuffer buf = ByteBuffer.allocateDirect(8192);
                long end = System.currentTimeMillis() + 4000;
                while (System.currentTimeMillis() < end) {
                    if ((Sys.poll(listener, Sys.POLLIN, 200) & Sys.POLLIN) != 0) {
                        buf.clear();
                        int n = (int) Sys.recv(listener, buf, 0);
                        byte[] data = new byte[n];
                        buf.get(0, data);
                        assertTrue(n <= 4096);
                        reports.add(readJson(new String(data, StandardCharsets.UTF_8)));
                    }
                }
                assertTrue(reports.size() >= 5, reports.toString());
                boolean sawCapacity = false;
                for (JsonNode r : reports) {
                    assertEquals(1, r.get("v").asInt());
                    assertEquals("t0", r.get("dev").asText());
                    assertEquals(ns.name(), r.get("netns").asText());
                    assertTrue(Math.abs(r.get("interval_ms").asLong() - 500) <= 50, r.toString());
                    assertTrue(r.has("tx_bytes") && r.has("busy_ms") && r.has("tx_frames"), r.toString());
                    if (r.has("capacity_bps")) {
                        sawCapacity = true;
                        assertEquals(100_000, r.get("capacity_bps").asDouble(), 5_000, r.toString());
                    }
                }
                assertTrue(sawCapacity, reports.toString());
                // the 60 frames went into tun's ring at once (its qdisc passes them straight on); the
                // ring empties by what the pump reads, interval by interval
                long maxRing = 0;
                for (int i = 0; i < reports.size(); i++) {
                    JsonNode r = reports.get(i);
                    assertTrue(r.has("ring"), "the device has a qdisc to count with: " + r);
                    assertEquals(0, r.get("qdisc").asLong(), "the unshaped qdisc holds nothing back: " + r);
                    maxRing = Math.max(maxRing, r.get("ring").asLong());
                    if (i > 0 && reports.get(i - 1).get("ring").asLong() > 0) {
                        long drained = reports.get(i - 1).get("ring").asLong() - r.get("ring").asLong();
                        assertTrue(Math.abs(drained - r.get("tx_frames").asLong()) <= 2,
                                "the ring shrinks by what was read: " + reports.get(i - 1) + " then " + r);
                    }
                }
                assertTrue(maxRing >= 45 && maxRing <= 60, "the ring held the burst: " + reports);
                assertEquals(0, pump.stop());
            }
        }
    }

    @Test
    void anIdlePumpDoesNotSpin() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            try (PumpProcess pump = new PumpProcess("--netns", ns.name(), "pump", "--dev", "t0", "--backend", "sink",
                    "--emulate-rate", "1mbit", "--report", "/run/tunshape-test-none.sock")) {
                assertTrue(pump.await("moving frames", 15_000), pump.lines().toString());
                Thread.sleep(1000);
                long pid = pump.pid();
                long before = cpuTicks(pid);
                Thread.sleep(3000);
                long used = cpuTicks(pid) - before;
                // clock ticks are 1/100 s: 3 s idle must cost well under 5 % of one core
                assertTrue(used <= 15, "idle pump used " + used + " ticks of CPU in 3 s");
                assertEquals(0, pump.stop());
            }
        }
    }

    private static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    }
}
