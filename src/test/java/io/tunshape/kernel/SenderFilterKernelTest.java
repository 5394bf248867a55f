package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Message;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.netlink.Netns;
import io.tunshape.netlink.Nl;
import io.tunshape.netlink.SenderFilter;
import io.tunshape.sys.Errno;
import io.tunshape.sys.NativeException;
import io.tunshape.tc.Handle;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.testing.Bounds;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tunshape.kernel.DaemonKernelTest.within;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon's event sockets drop, in the kernel, the notifications its own rate changes cause
 * ({@link SenderFilter}: by the sender's port id, {@link SenderFilter#RATE_PORT}, which the daemon's
 * rate socket holds in every namespace it serves); what any other socket changes is still heard. Where
 * another process holds that port id in a served namespace, the filter comes off, and that process's
 * changes are heard and repaired.
 */
class SenderFilterKernelTest {
    private static final int LO = 1;

    /** The senders (port ids) of the tc notifications waiting on {@code ev}, in order. */
    private static List<Integer> senders(NetlinkSocket ev) {
        List<Integer> out = new ArrayList<>();
        List<Message> ms;
        while ((ms = ev.receiveEventsNow()) != null) {
            for (Message m : ms) {
                out.add(m.pid());
            }
        }
        return out;
    }

    /** Heard, and all from {@code port} (a root qdisc's change is told as more than one message). */
    private static void assertOnly(int port, List<Integer> heard, String what) {
        assertTrue(!heard.isEmpty() && heard.stream().allMatch(p -> p == port), what + ": " + heard);
    }

    @Test
    void theFilterDropsWhatItsPortIdCausedAndNothingElse() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            TcCodec codec = new TcCodec(Psched.system());
            Netns.run(ns.name(), () -> {
                try (NetlinkSocket ev = NetlinkSocket.open(Nl.RTMGRP_TC);
                     NetlinkSocket mine = NetlinkSocket.open(0, SenderFilter.RATE_PORT);
                     NetlinkSocket other = NetlinkSocket.open()) {
                    assertEquals(SenderFilter.RATE_PORT, mine.portId());
                    NativeException taken = assertThrows(NativeException.class,
                            () -> NetlinkSocket.open(0, SenderFilter.RATE_PORT).close());
                    assertEquals(Errno.EADDRINUSE, taken.errno(), "one socket a port id in a namespace: " + taken);
                    SenderFilter.attach(ev, SenderFilter.RATE_PORT);
                    // (a change's notifications are queued before its ack: nothing to wait for)
                    new TcClient(mine, codec).send(codec.bfifo(TcClient.ADD, LO, Handle.of(0x7, 0), Handle.ROOT, 3000));
                    assertTrue(ns.tc("qdisc", "show", "dev", "lo").contains("bfifo 7:"), "the change was made");
                    assertEquals(List.of(), senders(ev), "what the filtered port id caused: dropped");
                    new TcClient(other, codec).send(TcCodec.delete(Tc.RTM_DELQDISC, LO, Handle.UNSPEC, Handle.ROOT));
                    assertOnly(other.portId(), senders(ev), "another socket's change: heard");
                    SenderFilter.detach(ev);
                    new TcClient(mine, codec).send(codec.bfifo(TcClient.ADD, LO, Handle.of(0x7, 0), Handle.ROOT, 3000));
                    assertOnly(SenderFilter.RATE_PORT, senders(ev), "the filter off: heard again");
                }
                return null;
            });
        }
    }

    /** Holds port id -2 on a route socket in the namespace; on a line "del IFINDEX", deletes that device's root qdisc with it. */
    private static final String HOLDER = String.join("\n",
            "import socket, struct, sys",
            "s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)",
            "s.bind((0xFFFFFFFE, 0))",
            "print('bound', flush=True)",
            "for line in sys.stdin:",
            "    ix = int(line.split()[1])",
            "    tcm = struct.pack('=BxxxiIII', 0, ix, 0, 0xFFFFFFFF, 0)",
            "    s.send(struct.pack('=IHHII', 16 + len(tcm), 37, 5, 1, 0) + tcm)   # RTM_DELQDISC, REQUEST|ACK",
            "    err = struct.unpack_from('=i', s.recv(4096), 16)[0]",
            "    print('deleted', err, flush=True)");

    @Test
    void aPortIdTakenInAServedNamespaceTurnsTheFilterOffAndItsHoldersChangesAreHeard(@TempDir Path dir) throws Exception {
        try (DaemonKernelTest.Setup s = new DaemonKernelTest.Setup(dir)) {
            s.ns.tun("t0");
            Process holder = new ProcessBuilder("ip", "netns", "exec", s.ns.name(), "python3", "-c", HOLDER)
                    .redirectErrorStream(true).start();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
                assertEquals("bound", out.readLine(), "the holder of port id -2");
                s.start();
                assertTrue(within(Bounds.millis(5000), () -> s.qdiscs("t0").contains("qdisc tbf 7473:")),
                        s.daemon.lines().toString());
                JsonNode d = s.status().get("discovery");
                String note = d.get("own_change_events").asText();
                assertTrue(note.startsWith("heard and skipped (port id -2 is taken in "), note);
                assertEquals(1, s.daemon.lines().stream().filter(l -> l.contains("the daemon's own rate changes: heard "
                        + "and skipped (port id -2 is taken in")).count(), "said once: " + s.daemon.lines());

                int ix = Integer.parseInt(s.ns.ip("-o", "link", "show", "t0").split(":")[0].trim());
                Writer in = new OutputStreamWriter(holder.getOutputStream(), StandardCharsets.UTF_8);
                in.write("del " + ix + "\n");
                in.flush();
                assertEquals("deleted 0", out.readLine(), "the holder's change");
                assertTrue(within(Bounds.millis(1000), () -> s.qdiscs("t0").contains("qdisc tbf 7473:")),
                        "deleted by the holder of the rate sockets' port id: heard and put back. " + s.daemon.lines());
            } finally {
                holder.destroyForcibly();
                holder.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
