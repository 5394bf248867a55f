package io.tunshape.daemon;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.tunshape.link.TunFlags;

import java.io.IOException;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * The control socket (a Unix stream socket, mode 0660): each connection gets the daemon's state as
 * one JSON document, then the socket closes. Also the Prometheus metrics on loopback.
 */
final class ControlServer implements AutoCloseable {
    private final Daemon daemon;
    private ServerSocketChannel server;
    private Path path;
    private com.sun.net.httpserver.HttpServer http;
    private volatile boolean stop;

    ControlServer(Daemon daemon) {
        this.daemon = daemon;
    }

    void start(String socketPath, String metrics) throws IOException {
        path = Path.of(socketPath);
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
        Thread t = new Thread(this::serve, "control");
        t.setDaemon(true);
        t.start();
        if (metrics != null) {
            int c = metrics.lastIndexOf(':');
            String host = metrics.substring(0, c).replace("[", "").replace("]", "");
            http = com.sun.net.httpserver.HttpServer.create(
                    new InetSocketAddress(host, Integer.parseInt(metrics.substring(c + 1))), 4);
            http.createContext("/metrics", ex -> {
                byte[] body = metrics().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().add("Content-Type", "text/plain; version=0.0.4");
                ex.sendResponseHeaders(200, body.length);
                try (var o = ex.getResponseBody()) {
                    o.write(body);
                }
            });
            http.start();
        }
    }

    /** How long one client may take to read the state: one that never reads is dropped after it. */
    static final long CLIENT_MS = 2000;

    private void serve() {
        while (!stop) {
            try (SocketChannel c = server.accept()) {
                writeWithin(c, ByteBuffer.wrap((json() + "\n").getBytes(StandardCharsets.UTF_8)), CLIENT_MS);
            } catch (IOException e) {
                if (stop) {
                    return;
                }
            }
        }
    }

    /**
     * Writes {@code b} to a client that has {@code ms} to take it. A blocking write waited forever
     * for a client that connects and never reads once the state outgrew the socket's buffer (some
     * 800 devices), and every later status with it.
     */
    static void writeWithin(SocketChannel c, ByteBuffer b, long ms) throws IOException {
        c.configureBlocking(false);
        long end = System.nanoTime() + ms * 1_000_000;
        try (java.nio.channels.Selector sel = java.nio.channels.Selector.open()) {
            c.register(sel, java.nio.channels.SelectionKey.OP_WRITE);
            while (b.hasRemaining()) {
                if (c.write(b) > 0) {
                    continue;
                }
                long left = (end - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    return; // dropped: closing the socket tells the client
                }
                sel.select(left);
                sel.selectedKeys().clear();
            }
        }
    }

    String json() {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(w)) {
            g.writeStartObject();
            interfaces(g);
            namespaces(g);
            discoveryAndMemory(g);
            reports(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return w.toString();
    }

    /** Every shaped device. */
    private void interfaces(JsonGenerator g) throws IOException {
        g.writeArrayFieldStart("interfaces");
        for (Daemon.Status s : daemon.status()) {
            g.writeStartObject();
            g.writeStringField("dev", s.dev());
            g.writeStringField("netns", s.netns());
            g.writeStringField("netns_path", s.netnsPath());
            g.writeStringField("profile", s.profile());
            g.writeNumberField("rate_bps", s.rateBps());
            if (s.capacityBps() >= 0) {
                g.writeNumberField("capacity_bps", s.capacityBps());
            } else {
                g.writeNullField("capacity_bps");
            }
            if (s.reportAgeMs() >= 0) {
                g.writeNumberField("report_age_ms", s.reportAgeMs());
            } else {
                g.writeNullField("report_age_ms");
            }
            g.writeNumberField("changes", s.changes());
            g.writeNumberField("flushes", s.flushes());
            g.writeNumberField("backlog_bytes", s.backlogBytes());
            g.writeNumberField("drops", s.drops());
            g.writeNumberField("tx_dropped", s.txDropped());
            if (s.tunFlags() >= 0) { // read from sysfs during this status: the device's, whoever attached it
                g.writeStringField("tun_flags", "0x" + Integer.toHexString(s.tunFlags()));
                g.writeBooleanField("kernel_flow_control", TunFlags.flowControl(s.tunFlags()));
            } else {
                g.writeNullField("tun_flags");
                g.writeNullField("kernel_flow_control");
            }
            stall(g, s.stall());
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /** A device's stall guard (kernel flow control only): whether stalled, for how long, what it dropped. */
    private static void stall(JsonGenerator g, Daemon.Stall st) throws IOException {
        g.writeBooleanField("stall_guarded", st.guarded());
        g.writeBooleanField("stalled", st.stalled());
        if (st.stalled()) {
            g.writeNumberField("stalled_for_ms", st.stalledForMs());
        } else {
            g.writeNullField("stalled_for_ms");
        }
        g.writeNumberField("stall_dropped", st.dropped());
        g.writeNumberField("stalls", st.stalls());
        g.writeNumberField("stall_dropped_total", st.droppedTotal());
        g.writeNumberField("stall_failures", st.failures());
        g.writeStringField("stall_error", st.error());
    }

    /** Every selected namespace. */
    private void namespaces(JsonGenerator g) throws IOException {
        g.writeArrayFieldStart("namespaces");
        for (Daemon.NamespaceStatus n : daemon.namespaces()) {
            g.writeStartObject();
            g.writeStringField("label", n.label());
            g.writeStringField("name", n.name());
            g.writeNumberField("inode", n.inode());
            g.writeStringField("hostname", n.hostname());
            g.writeStringField("command", n.command());
            if (n.pid() > 0) {
                g.writeNumberField("pid", n.pid());
            } else {
                g.writeNullField("pid");
            }
            g.writeStringField("container", n.container());
            g.writeStringField("state", n.state());
            g.writeStringField("reason", n.reason());
            g.writeNumberField("devices", n.devices());
            g.writeNumberField("attempts", n.attempts());
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /** What discovery costs and sees; the JVM's memory. */
    private void discoveryAndMemory(JsonGenerator g) throws IOException {
        Daemon.Discovery d = daemon.discovery();
        g.writeObjectFieldStart("discovery");
        g.writeNumberField("host_namespaces", d.hostNamespaces());
        g.writeNumberField("proc_scans", d.scans());
        g.writeNumberField("last_proc_scan_us", d.lastScanMicros());
        g.writeNumberField("process_events", d.processEvents());
        g.writeStringField("process_event_source", d.processEventsNote());
        g.writeStringField("netns_event_source", d.netnsEventsNote());
        g.writeNumberField("netns_event_sockets", d.netnsEventSockets());
        g.writeStringField("own_change_events", d.ownChangesNote());
        g.writeNumberField("pass_retries", d.retries());
        g.writeEndObject();
        // what the JVM's limits (the launcher's -Xmx and -XX:MaxDirectMemorySize) are measured against
        g.writeObjectFieldStart("memory");
        java.lang.management.MemoryUsage heap = java.lang.management.ManagementFactory.getMemoryMXBean()
                .getHeapMemoryUsage();
        g.writeNumberField("heap_used_bytes", heap.getUsed());
        g.writeNumberField("heap_max_bytes", heap.getMax());
        long direct = 0;
        for (java.lang.management.BufferPoolMXBean b : java.lang.management.ManagementFactory.getPlatformMXBeans(
                java.lang.management.BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                direct = b.getTotalCapacity();
            }
        }
        g.writeNumberField("direct_bytes", direct);
        g.writeNumberField("threads", Thread.activeCount());
        g.writeEndObject();
    }

    /** Reports received and refused, and the changes they brought. */
    private void reports(JsonGenerator g) throws IOException {
        g.writeObjectFieldStart("reports");
        g.writeNumberField("accepted", daemon.reportPath.accepted.get());
        g.writeNumberField("refused", daemon.reports.refusedTotal());
        // the totals older scripts read: refused as not a valid report, for an unknown device, unauthorised
        long unknown = daemon.reports.refused(ReportParser.Reason.UNKNOWN_DEVICE)
                + daemon.reports.refused(ReportParser.Reason.UNKNOWN_NAMESPACE);
        long unauthorised = daemon.reports.refused(ReportParser.Reason.UNAUTHORISED);
        g.writeNumberField("rejected", daemon.reports.refusedTotal() - unknown - unauthorised);
        g.writeNumberField("unknown", unknown);
        g.writeNumberField("unauthorised", unauthorised);
        g.writeObjectFieldStart("refused_by_reason");
        for (ReportParser.Reason r : ReportParser.Reason.values()) {
            g.writeNumberField(r.label, daemon.reports.refused(r));
        }
        g.writeEndObject();
        g.writeEndObject();
        // report-driven changes, from the report's arrival to the kernel's ack (the last 4096)
        g.writeObjectFieldStart("changes");
        ChangeLatency.Snapshot latency = daemon.reportPath.latency.snapshot();
        g.writeNumberField("count", latency.count());
        // what became of the controllers' changes (reports' and ticks'): made, superseded by a newer,
        // left to a pass (another process held the lock; not compiled yet; refused by the kernel)
        g.writeObjectFieldStart("outcomes");
        for (RateLink.Sent o : RateLink.Sent.values()) {
            g.writeNumberField(o.name().toLowerCase(java.util.Locale.ROOT), daemon.reportPath.outcomes.get(o.ordinal()));
        }
        g.writeNumberField("refused", daemon.reportPath.outcomes.get(RateLink.Sent.values().length));
        g.writeEndObject();
        quantiles(g, "", latency);
        // the daemon's own part: from the report thread's recvmsg returning (after its wake-up) to the ack
        quantiles(g, "handled_", daemon.reportPath.handled.snapshot());
        // what the p99 is made of, with when each came (to set beside the host's other work then)
        g.writeArrayFieldStart("slowest");
        for (ChangeLatency.Sample x : latency.slowest(SLOWEST)) {
            g.writeStartObject();
            if (x.arrivedEpochNanos() >= 0) {
                g.writeStringField("arrived", java.time.Instant.ofEpochSecond(0, x.arrivedEpochNanos())
                        .truncatedTo(java.time.temporal.ChronoUnit.MICROS).toString());
            } else {
                g.writeNullField("arrived");
            }
            g.writeNumberField("us", x.micros());
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeEndObject();
    }

    /** How many of the slowest kept changes status lists: with 4096 kept, the p99's 41 and a few more. */
    static final int SLOWEST = 48;

    private static void quantiles(JsonGenerator g, String prefix, ChangeLatency.Snapshot l) throws IOException {
        for (String[] q : new String[][] {{"p50_us", "0.5"}, {"p99_us", "0.99"}, {"max_us", "1"}}) {
            long v = l.quantileMicros(Double.parseDouble(q[1]));
            if (v >= 0) {
                g.writeNumberField(prefix + q[0], v);
            } else {
                g.writeNullField(prefix + q[0]);
            }
        }
    }

    String metrics() {
        StringBuilder b = new StringBuilder();
        List<Daemon.Status> all = daemon.status();
        // names and units by Prometheus's conventions: base units (bytes, seconds) in the name, counters _total
        metric(b, "tunshape_rate_bytes_per_second", "gauge", "The shaping rate now (8 times this in bit/s).", all,
                s -> s.rateBps() < 0 ? -1 : s.rateBps() / 8.0);
        metric(b, "tunshape_capacity_bytes_per_second", "gauge",
                "The smoothed capacity estimate of an adaptive device (8 times this in bit/s).", all,
                s -> s.capacityBps() < 0 ? -1 : s.capacityBps() / 8.0);
        metric(b, "tunshape_qdisc_backlog_bytes", "gauge", "Bytes queued in the root qdisc.", all,
                Daemon.Status::backlogBytes);
        metric(b, "tunshape_qdisc_drops_total", "counter", "Packets the root qdisc dropped.", all,
                Daemon.Status::drops);
        metric(b, "tunshape_tun_tx_dropped_total", "counter", "Packets tun dropped at its ring.", all,
                Daemon.Status::txDropped);
        metric(b, "tunshape_rate_changes_total", "counter", "Rate changes made.", all, Daemon.Status::changes);
        metric(b, "tunshape_queue_flushes_total", "counter",
                "Rate changes that emptied the queue (a fall deeper than it drains in twice the latency).", all,
                Daemon.Status::flushes);
        stallMetrics(b, all);
        histogram(b, "tunshape_device_change_latency_seconds",
                "Per device, from a report's arrival to the kernel's ack of the rate it brought.", all);
        b.append("# HELP tunshape_change_latency_seconds From a report's arrival to the kernel's ack of the rate it "
                + "brought (the last 4096 changes).\n# TYPE tunshape_change_latency_seconds summary\n");
        ChangeLatency.Snapshot latency = daemon.reportPath.latency.snapshot();
        for (double q : new double[] {0.5, 0.99, 1}) {
            long v = latency.quantileMicros(q);
            if (v >= 0) {
                b.append("tunshape_change_latency_seconds{quantile=\"").append(q == 1 ? "1" : Double.toString(q))
                        .append("\"} ").append(v / 1e6).append('\n');
            }
        }
        b.append("tunshape_change_latency_seconds_count ").append(latency.count()).append('\n');
        b.append("# HELP tunshape_reports_total Reports received, by result.\n# TYPE tunshape_reports_total counter\n");
        b.append("tunshape_reports_total{result=\"accepted\"} ").append(daemon.reportPath.accepted.get()).append('\n');
        b.append("tunshape_reports_total{result=\"refused\"} ").append(daemon.reports.refusedTotal()).append('\n');
        b.append("# HELP tunshape_reports_refused_total Reports refused, by reason (tunshape-report(7)).\n"
                + "# TYPE tunshape_reports_refused_total counter\n");
        for (ReportParser.Reason r : ReportParser.Reason.values()) {
            b.append("tunshape_reports_refused_total{reason=\"").append(r.label).append("\"} ")
                    .append(daemon.reports.refused(r)).append('\n');
        }
        namespaceMetrics(b);
        return b.toString();
    }

    /** The stall guard's, for the devices it guards (or guarded): none where no device has kernel flow control. */
    private static void stallMetrics(StringBuilder b, List<Daemon.Status> all) {
        java.util.function.Predicate<Daemon.Status> shown = s -> s.stall().guarded() || s.stall().stalls() > 0;
        metric(b, "tunshape_stalled", "gauge", "Whether the stall guard holds a device whose reader stalled (1) or not "
                + "(0).", all, s -> !shown.test(s) ? -1 : s.stall().stalled() ? 1 : 0);
        metric(b, "tunshape_stalls_total", "counter", "Stalls of a reader with kernel flow control.", all,
                s -> shown.test(s) ? s.stall().stalls() : -1);
        metric(b, "tunshape_stall_dropped_packets_total", "counter", "Packets the stall guard dropped: what the "
                + "qdisc held at each stall, and what came while stalled.", all,
                s -> shown.test(s) ? s.stall().droppedTotal() : -1);
        metric(b, "tunshape_stall_failures_total", "counter", "Attempts to free a stalled device's senders that "
                + "the kernel refused (each retried).", all, s -> shown.test(s) ? s.stall().failures() : -1);
    }

    /** The namespaces' state and what discovery and the work queue did. */
    private void namespaceMetrics(StringBuilder b) {
        List<Daemon.NamespaceStatus> ns = daemon.namespaces();
        b.append("# HELP tunshape_namespace_up Whether a selected namespace is served (1) or retrying (0).\n"
                + "# TYPE tunshape_namespace_up gauge\n");
        for (Daemon.NamespaceStatus n : ns) {
            b.append("tunshape_namespace_up{netns=\"").append(escape(n.label())).append("\"} ")
                    .append("serving".equals(n.state()) ? 1 : 0).append('\n');
        }
        b.append("# HELP tunshape_namespace_attempts Failed attempts in a row to serve a namespace.\n"
                + "# TYPE tunshape_namespace_attempts gauge\n");
        for (Daemon.NamespaceStatus n : ns) {
            b.append("tunshape_namespace_attempts{netns=\"").append(escape(n.label())).append("\"} ")
                    .append(n.attempts()).append('\n');
        }
        Daemon.Discovery d = daemon.discovery();
        b.append("# HELP tunshape_host_namespaces Network namespaces on the host, served or not.\n"
                + "# TYPE tunshape_host_namespaces gauge\ntunshape_host_namespaces ").append(d.hostNamespaces())
                .append('\n');
        b.append("# HELP tunshape_proc_scans_total Full /proc scans for namespaces.\n"
                + "# TYPE tunshape_proc_scans_total counter\ntunshape_proc_scans_total ").append(d.scans()).append('\n');
        b.append("# HELP tunshape_process_events_total Process events (fork, exec, exit) read.\n"
                + "# TYPE tunshape_process_events_total counter\ntunshape_process_events_total ")
                .append(d.processEvents()).append('\n');
        b.append("# HELP tunshape_netns_event_sockets Sockets hearing the served namespaces' link and tc events: 1, or"
                + " 1 and one in each served namespace where the kernel's one socket for all does not hear them.\n"
                + "# TYPE tunshape_netns_event_sockets gauge\ntunshape_netns_event_sockets ")
                .append(d.netnsEventSockets()).append('\n');
        b.append("# HELP tunshape_pass_retries_total Passes over a namespace that failed and were retried with backoff.\n"
                + "# TYPE tunshape_pass_retries_total counter\ntunshape_pass_retries_total ").append(d.retries())
                .append('\n');
    }

    private static void metric(StringBuilder b, String name, String type, String help, List<Daemon.Status> all,
                               java.util.function.ToDoubleFunction<Daemon.Status> f) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(' ')
                .append(type).append('\n');
        for (Daemon.Status s : all) {
            double v = f.applyAsDouble(s);
            if (v >= 0) {
                b.append(name).append(labels(s)).append(' ').append(number(v)).append('\n');
            }
        }
    }

    /** Each device's change times as one histogram per device (cumulative buckets, sum, count). */
    private static void histogram(StringBuilder b, String name, String help, List<Daemon.Status> all) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name)
                .append(" histogram\n");
        for (Daemon.Status s : all) {
            LatencyHistogram h = s.latency();
            if (h == null) {
                continue;
            }
            String l = labels(s);
            String inner = l.substring(1, l.length() - 1);
            for (int i = 0; i <= LatencyHistogram.BOUNDS.length; i++) {
                String le = i < LatencyHistogram.BOUNDS.length ? number(LatencyHistogram.BOUNDS[i]) : "+Inf";
                b.append(name).append("_bucket{").append(inner).append(",le=\"").append(le).append("\"} ")
                        .append(h.cumulative(i)).append('\n');
            }
            b.append(name).append("_sum").append(l).append(' ').append(number(h.sumSeconds())).append('\n');
            b.append(name).append("_count").append(l).append(' ').append(h.count()).append('\n');
        }
    }

    private static String labels(Daemon.Status s) {
        return "{dev=\"" + escape(s.dev()) + "\",netns=\"" + (s.netns() == null ? "" : escape(s.netns())) + "\"}";
    }

    /** Whole numbers without a fraction, others as Java prints doubles (which Prometheus reads). */
    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    /** A label value as Prometheus's text format quotes it. */
    private static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    @Override
    public void close() {
        stop = true;
        try {
            if (server != null) {
                server.close();
            }
            if (path != null) {
                Files.deleteIfExists(path);
            }
        } catch (IOException ignored) {
            // closing anyway
        }
        if (http != null) {
            http.stop(0);
        }
    }

}
