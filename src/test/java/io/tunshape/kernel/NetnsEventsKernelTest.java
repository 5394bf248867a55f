package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.testing.Bounds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static io.tunshape.kernel.DaemonKernelTest.within;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How the daemon hears a served namespace's link and tc events: its one socket for every namespace
 * where the kernel lets it hear them (checked once, when it first serves a namespace but its own, and
 * said in status), a socket inside each served namespace otherwise. A change made by another process
 * in the served namespace (tc deleting the daemon's root, a new device) is noticed and repaired either
 * way, well within the 10 s safety-net scan, which does not look at a served namespace's devices.
 */
class NetnsEventsKernelTest {
    private static final String KNOB_NOTE = "off (TUNSHAPE_NETNS_EVENTS=per-namespace, a fault-test knob): "
            + "a socket in each served namespace instead";
    private static final String OWN_DROPPED = "dropped by the kernel (the rate sockets' port id -2)";

    @Test
    void whereTheOneSocketDoesNotHearANamespaceASocketInsideItDoes(@TempDir Path dir) throws Exception {
        try (DaemonKernelTest.Setup s = new DaemonKernelTest.Setup(dir)) {
            s.ns.tun("t0");
            s.start(Map.of("TUNSHAPE_NETNS_EVENTS", "per-namespace"));
            noticedAndRepaired(s);
            JsonNode d = s.status().get("discovery");
            assertEquals(KNOB_NOTE, d.get("netns_event_source").asText(), d.toString());
            assertEquals(2, d.get("netns_event_sockets").asInt(), "the one socket and the served namespace's own");
            assertEquals(OWN_DROPPED, d.get("own_change_events").asText(), d.toString());
            assertEquals(1, count(s, "namespace events off ("), "said once: " + s.daemon.lines());
            assertEquals(0, s.daemon.stop(), s.daemon.lines().toString());
            assertFalse(s.qdiscs("t0").contains("7473:") || s.qdiscs("t1").contains("7473:"), "SIGTERM puts back");
        }
    }

    @Test
    void theOneSocketIsCheckedOnceAndWhatTheKernelDoesIsSaid(@TempDir Path dir) throws Exception {
        try (DaemonKernelTest.Setup s = new DaemonKernelTest.Setup(dir)) {
            s.ns.tun("t0");
            s.start();
            noticedAndRepaired(s);
            JsonNode d = s.status().get("discovery");
            String note = d.get("netns_event_source").asText();
            if (AllNamespacesEventsKernelTest.leavesOutTheRequestersPortId()) {
                assertTrue(note.startsWith("on (the kernel leaves out a tc change whose sender has the listening "
                        + "socket's port id, as Linux before 5.15 does: the socket has port id -"), note);
                assertEquals(1, count(s, "namespace events on (the kernel leaves out"), "said once: " + s.daemon.lines());
            } else {
                assertEquals("on", note, "Linux " + System.getProperty("os.version") + " from 5.15 on");
                assertEquals(0, count(s, "namespace events"), "nothing to say: " + s.daemon.lines());
            }
            assertEquals(1, d.get("netns_event_sockets").asInt(), "one socket for every namespace");
            assertEquals(OWN_DROPPED, d.get("own_change_events").asText(), d.toString());
        }
    }

    /** A served tun shaped; its root deleted by tc, put back; a device made after, shaped. */
    private static void noticedAndRepaired(DaemonKernelTest.Setup s) throws Exception {
        long bound = Bounds.millis(1000);
        assertTrue(within(Bounds.millis(5000), () -> s.qdiscs("t0").contains("qdisc tbf 7473:")), s.daemon.lines().toString());
        s.ns.tc("qdisc", "del", "dev", "t0", "root");
        assertTrue(within(bound, () -> s.qdiscs("t0").contains("qdisc tbf 7473:")),
                "removed by tc in the served namespace: put back. " + s.daemon.lines());
        s.ns.tun("t1");
        assertTrue(within(bound, () -> s.qdiscs("t1").contains("qdisc tbf 7473:")),
                "made after: shaped. " + s.daemon.lines());
    }

    private static long count(DaemonKernelTest.Setup s, String text) {
        return s.daemon.lines().stream().filter(l -> l.contains(text)).count();
    }
}
