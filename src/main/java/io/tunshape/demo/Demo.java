package io.tunshape.demo;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.pump.Backend;
import io.tunshape.pump.LinkModel;
import io.tunshape.pump.Pump;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.sys.Sys;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Rate;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tun.TunDevice;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.Consumer;

/**
 * The built-in demonstration: in a throwaway network namespace (unshare on a dedicated thread, so
 * nothing outlives the process, not even after kill -9), a tun device, a pump that emulates a slow
 * backend, and a UDP sender with default socket buffers, first without shaping and then with a
 * backpressure plan; where the kernel offers IFF_BACKPRESSURE (Linux 7.3), a third row with tun0
 * opened with the kernel's flow control behind tunshape's queue at a rate well above the link. Each
 * row measures what the application sent, what the backend got, what was dropped and where, the
 * goodput and the longest wait.
 */
public final class Demo {
    /** One row of the table, with its counters over time. */
    public record Row(String qdisc, long sent, long delivered, long droppedAtTun, long droppedInQdisc,
                      double goodputBps, double longestWaitMs, double senderBlockedSeconds, List<Sample> timeline,
                      boolean kernelFlowControl) {
    }

    /**
     * The row's counters {@code seconds} after its sender started, counted from the row's start:
     * datagrams the application sent, frames and payload bytes the backend got, drops at tun and in
     * the qdisc. {@code draining} once the sender has stopped and the queue empties.
     */
    public record Sample(double seconds, long sent, long delivered, long deliveredBytes, long droppedAtTun,
                         long droppedInQdisc, boolean draining) {
    }

    /** Where a row is, for a progress display: row {@code row} of {@code rows}, its latest sample. */
    public record Progress(int row, int rows, double seconds, Sample now) {
    }

    /**
     * What to run: the emulated backend rate, the shaping for the second row, the shaping for the
     * third (kernel flow control; null: no third row, as where the kernel does not offer the flag) and
     * its name, seconds per row, payload; log lines, and the progress of each row (about ten times a
     * second).
     */
    public record Options(Rate rate, ShapingRequest shaping, String shapingName, ShapingRequest flowControlShaping,
                          String flowControlName, double seconds, int payload, Consumer<String> log,
                          Consumer<Progress> progress) {
    }

    /** Whether this kernel's tun offers IFF_BACKPRESSURE (TUNGETFEATURES), which the third row needs. */
    public static boolean kernelFlowControlOffered() {
        return (TunDevice.features() & TunDevice.IFF_BACKPRESSURE) != 0;
    }

    /** How often a row's counters are read. */
    private static final long SAMPLE_NANOS = 100_000_000L;

    private static final int PORT = 9;
    private volatile boolean stop;
    private int rowCount = 2;

    public void stop() {
        stop = true;
    }

    /** Runs both rows on a thread of its own in a fresh network namespace. */
    public List<Row> run(Options o) throws Exception {
        FutureTask<List<Row>> task = new FutureTask<>((Callable<List<Row>>) () -> {
            Sys.unshare(Sys.CLONE_NEWNET);
            return inNamespace(o);
        });
        Thread t = new Thread(task, "demo-netns");
        t.setDaemon(true);
        t.start();
        try {
            return task.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            throw e;
        }
    }

    private List<Row> inNamespace(Options o) throws Exception {
        try {
            // no IPv6 on the demo's device: router solicitations would mix with the measurement
            Files.writeString(Path.of("/proc/sys/net/ipv6/conf/default/disable_ipv6"), "1");
        } catch (Exception ignored) {
            // no IPv6 in this kernel: nothing to disable
        }
        rowCount = o.flowControlShaping() == null ? 2 : 3;
        List<Row> rows = new ArrayList<>();
        try (NetlinkSocket nl = NetlinkSocket.open()) {
            LinkClient links = new LinkClient(nl);
            TcClient tc = new TcClient(nl, new TcCodec(io.tunshape.tc.Psched.system()));
            try (Rig rig = new Rig(links, o, false)) {
                o.log().accept("row 1: tun0 with the kernel's default qdisc, sending for " + o.seconds() + " s");
                rows.add(row(o, 1, "kernel default (" + rootKind(tc, rig.index) + ")", links, tc, rig, false));
                if (!stop) {
                    String label = o.shapingName() + " (" + describe(shape(rig.dev, o.shaping())) + ")";
                    o.log().accept("row 2: tun0 shaped: " + label + ", sending for " + o.seconds() + " s");
                    rows.add(row(o, 2, label, links, tc, rig, false));
                }
            }
            if (!stop && o.flowControlShaping() != null) {
                // tun0 again (the first went with its fd), this time attached with IFF_BACKPRESSURE
                try (Rig rig = new Rig(links, o, true)) {
                    if (!rig.dev.backpressure()) {
                        throw new IllegalStateException("tun0 was opened without IFF_BACKPRESSURE although "
                                + "TUNGETFEATURES offers it");
                    }
                    String label = o.flowControlName() + " (" + describe(shape(rig.dev, o.flowControlShaping())) + ")";
                    o.log().accept("row 3: tun0 with kernel flow control, shaped: " + label + ", sending for "
                            + o.seconds() + " s");
                    rows.add(row(o, 3, label, links, tc, rig, true));
                }
            }
        }
        return rows;
    }

    /** tun0 (opened with IFF_BACKPRESSURE or not), up, addressed, with a pump emulating the backend. */
    private static final class Rig implements AutoCloseable {
        final TunDevice dev;
        final int index;
        final CountingSink sink = new CountingSink();
        private final Pump pump;
        private final Thread thread;

        Rig(LinkClient links, Options o, boolean backpressure) throws Exception {
            dev = TunDevice.open("tun0", false, backpressure);
            int ix = -1;
            try {
                for (LinkInfo l : links.links()) {
                    if (l.name().equals(dev.name())) {
                        ix = l.index();
                    }
                }
                links.setUp(ix);
                links.addPeerAddress(ix, (Inet4Address) InetAddress.getByName("198.18.0.1"),
                        (Inet4Address) InetAddress.getByName("198.18.0.2"));
            } catch (Exception | Error e) {
                dev.close();
                throw e;
            }
            index = ix;
            pump = new Pump(dev, sink, new Pump.Options(null, LinkModel.rate(o.rate().bytesPerSecond()), 1000,
                    null, null, o.log(), null, 2, System.nanoTime()));
            thread = new Thread(pump::run, "demo-pump");
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            pump.stop();
            thread.join(2000);
            dev.close();
        }
    }

    private static Result shape(TunDevice dev, ShapingRequest request) {
        Planner planner = new Planner(io.tunshape.tc.Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
        try (Session s = new Session(null, new TcCodec(io.tunshape.tc.Psched.system()))) {
            return s.apply(List.of(dev.name()), request, planner, false).get(0);
        }
    }

    private static String describe(Result r) {
        if (r.after() != null && r.after().tbf() != null) {
            return "tbf " + r.after().tbf().rate() + ", limit " + r.after().tbf().limit().bytes() + " B";
        }
        if (r.after() != null && r.after().htb() != null) {
            return "htb " + r.after().htb().classes().get(0).rate();
        }
        return "kernel default";
    }

    private static String rootKind(TcClient tc, int index) {
        for (QdiscInfo q : tc.qdiscs()) {
            if (q.ifindex() == index && q.isRoot()) {
                return q.kind();
            }
        }
        return "none";
    }

    private static long[] counters(LinkClient links, TcClient tc, int index) {
        long qdiscDrops = 0;
        long backlog = 0;
        for (QdiscInfo q : tc.qdiscs()) {
            if (q.ifindex() == index && q.isRoot()) {
                qdiscDrops = q.stats().drops();
                backlog = q.stats().qlen();
            }
        }
        return new long[] {links.get(index).txDropped(), qdiscDrops, backlog};
    }

    private Row row(Options o, int number, String label, LinkClient links, TcClient tc, Rig rig,
                    boolean kernelFlowControl) throws Exception {
        long[] before = counters(links, tc, rig.index);
        rig.sink.reset();
        long sent = 0;
        long blockedNanos = 0;
        long start = System.nanoTime();
        List<Sample> timeline = new ArrayList<>();
        long nextSample = start;
        long end = start + (long) (o.seconds() * 1e9);
        ByteBuffer b = ByteBuffer.allocate(o.payload()).order(ByteOrder.BIG_ENDIAN);
        InetSocketAddress peer = new InetSocketAddress("198.18.0.2", PORT);
        try (DatagramChannel ch = DatagramChannel.open(); Selector sel = Selector.open()) {
            ch.configureBlocking(false);
            ch.register(sel, SelectionKey.OP_WRITE);
            while (!stop && System.nanoTime() < end && sent < 20_000_000) {
                if (System.nanoTime() >= nextSample) {
                    nextSample = Math.max(nextSample + SAMPLE_NANOS, System.nanoTime());
                    sample(o, number, timeline, start, sent, rig.sink, before, counters(links, tc, rig.index), false);
                }
                b.clear();
                b.putLong(0, sent).putLong(8, System.nanoTime());
                if (ch.send(b, peer) > 0) {
                    sent++;
                    continue;
                }
                // the socket's send buffer is full: the sender is held back
                long t0 = System.nanoTime();
                sel.select(Math.max(1, Math.min(end - t0, nextSample - t0) / 1_000_000));
                sel.selectedKeys().clear();
                blockedNanos += System.nanoTime() - t0;
            }
        }
        long sendEnd = System.nanoTime();
        // let what is queued drain (bounded): until the backend has been idle for half a second
        long drainEnd = sendEnd + 8_000_000_000L;
        long lastCount = -1;
        long idleSince = System.nanoTime();
        while (!stop && System.nanoTime() < drainEnd) {
            long[] now = counters(links, tc, rig.index);
            if (System.nanoTime() >= nextSample) {
                nextSample = Math.max(nextSample + SAMPLE_NANOS, System.nanoTime());
                sample(o, number, timeline, start, sent, rig.sink, before, now, true);
            }
            long c = rig.sink.frames();
            if (c != lastCount) {
                lastCount = c;
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince > 500_000_000L && now[2] == 0) {
                break;
            }
            Thread.sleep(50);
        }
        long[] after = counters(links, tc, rig.index);
        sample(o, number, timeline, start, sent, rig.sink, before, after, true);
        double seconds = Math.max(1e-3, (rig.sink.lastNanos() - start) / 1e9);
        return new Row(label, sent, rig.sink.frames(), after[0] - before[0], after[1] - before[1],
                rig.sink.bytes() * 8 / seconds, rig.sink.longestWaitNanos() / 1e6, blockedNanos / 1e9,
                List.copyOf(timeline), kernelFlowControl);
    }

    private void sample(Options o, int row, List<Sample> timeline, long start, long sent, CountingSink sink,
                               long[] before, long[] now, boolean draining) {
        Sample s = new Sample((System.nanoTime() - start) / 1e9, sent, sink.frames(), sink.bytes(),
                now[0] - before[0], now[1] - before[1], draining);
        timeline.add(s);
        if (o.progress() != null) {
            o.progress().accept(new Progress(row, rowCount, o.seconds(), s));
        }
    }

    /** A backend that consumes frames and counts the demo's datagrams, with the longest wait. */
    static final class CountingSink implements Backend {
        private long frames;
        private long bytes;
        private long longestWait;
        private long last;

        synchronized void reset() {
            frames = 0;
            bytes = 0;
            longestWait = 0;
            last = System.nanoTime();
        }

        synchronized long frames() {
            return frames;
        }

        synchronized long bytes() {
            return bytes;
        }

        synchronized long longestWaitNanos() {
            return longestWait;
        }

        synchronized long lastNanos() {
            return last;
        }

        @Override
        public void open() {
        }

        @Override
        public synchronized void send(ByteBuffer f) {
            int p = f.position();
            int n = f.remaining();
            f.position(f.limit());
            if (n < 28 + 16 || (f.get(p) >> 4) != 4 || f.get(p + 9) != 17) {
                return;
            }
            int ihl = (f.get(p) & 0x0F) * 4;
            int dport = Short.toUnsignedInt(f.getShort(p + ihl + 2));
            if (dport != PORT) {
                return;
            }
            long now = System.nanoTime();
            long sentAt = f.order(ByteOrder.BIG_ENDIAN).getLong(p + ihl + 8 + 8);
            frames++;
            bytes += n - ihl - 8;
            longestWait = Math.max(longestWait, now - sentAt);
            last = now;
        }

        @Override
        public boolean receive(ByteBuffer buf, int timeoutMs) {
            return Backend.idle(timeoutMs);
        }

        @Override
        public String describe() {
            return "demo sink";
        }

        @Override
        public void close() {
        }
    }
}
