package io.tunshape.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** status; its model (options, help) is {@link #spec}, bound to these fields. */
public final class StatusCommand implements Callable<Integer> {
    TunshapeCommand top;
    CommandSpec spec;
    String socket;

    @Override
    public Integer call() throws Exception {
        String answer;
        try {
            answer = ControlSocket.query(socket);
        } catch (java.net.SocketException | java.nio.file.NoSuchFileException e) {
            spec.commandLine().getErr().println("tunshape: no daemon answers on " + socket + " (" + e.getMessage()
                    + "); start one with 'tunshape daemon'");
            return ExitCodes.NO_SUCH;
        } catch (java.io.IOException e) {
            spec.commandLine().getErr().println("tunshape: " + socket + ": " + e.getMessage());
            return ExitCodes.REFUSED;
        }
        PrintWriter out = spec.commandLine().getOut();
        if (top.json) {
            out.println(answer);
            out.flush();
            return ExitCodes.OK;
        }
        Answer a = new Answer(answer);
        namespaces(out, a);
        interfaces(out, a.rows);
        reports(out, a);
        out.flush();
        return ExitCodes.OK;
    }

    /** The daemon's answer as flat maps of its scalar fields (JSON null as "-"), by section. */
    private static final class Answer {
        final List<Map<String, String>> rows = new ArrayList<>();
        final List<Map<String, String>> namespaces = new ArrayList<>();
        final Map<String, String> refusedBy = new LinkedHashMap<>();
        final Map<String, String> discovery = new LinkedHashMap<>();
        final Map<String, String> reports = new LinkedHashMap<>();
        final Map<String, String> changes = new LinkedHashMap<>();

        Answer(String answer) throws java.io.IOException {
            try (JsonParser p = new JsonFactory().createParser(answer)) {
                Map<String, String> cur = null;
                String section = null;
                JsonToken t;
                while ((t = p.nextToken()) != null) {
                    if (t == JsonToken.FIELD_NAME && p.getParsingContext().getParent() != null
                            && p.getParsingContext().getParent().inRoot()) {
                        section = p.currentName();
                    } else if (t == JsonToken.START_OBJECT && ("interfaces".equals(section)
                            || "namespaces".equals(section)) && p.getParsingContext().getParent().inArray()) {
                        cur = new LinkedHashMap<>();
                        ("interfaces".equals(section) ? rows : namespaces).add(cur);
                    } else if (t.isScalarValue()) {
                        var ctx = p.getParsingContext();
                        boolean byReason = ctx.getParent() != null
                                && "refused_by_reason".equals(ctx.getParent().getCurrentName());
                        Map<String, String> to = byReason ? refusedBy : "reports".equals(section) ? reports
                                : "changes".equals(section) ? changes : "discovery".equals(section) ? discovery
                                : cur == null ? reports : cur;
                        to.put(p.currentName(), t == JsonToken.VALUE_NULL ? "-" : p.getText());
                    }
                }
            }
        }
    }

    private static void namespaces(PrintWriter out, Answer a) {
        for (Map<String, String> n : a.namespaces) {
            // a person's name for it (name, or hostname, command and pid), its state, and why when not serving
            out.printf("namespace %s: %s, %s device(s)%s%n", n.get("label"), n.get("state"), n.get("devices"),
                    "-".equals(n.getOrDefault("reason", "-")) ? "" : "; " + n.get("reason") + " (attempt "
                            + n.get("attempts") + ")");
        }
        Map<String, String> discovery = a.discovery;
        if (!discovery.isEmpty()) {
            out.println("discovery: " + discovery.get("host_namespaces") + " namespaces on the host, "
                    + a.namespaces.size() + " selected; process events " + discovery.get("process_event_source")
                    + "; namespace events " + discovery.getOrDefault("netns_event_source", "-")
                    + "; the daemon's own changes' events " + discovery.getOrDefault("own_change_events", "-")
                    + "; last /proc scan " + discovery.get("last_proc_scan_us") + " us");
        }
    }

    private static void interfaces(PrintWriter out, List<Map<String, String>> rows) {
        if (rows.isEmpty()) {
            out.println("the daemon shapes no interface yet");
        }
        for (Map<String, String> r : rows) {
            String fc = r.get("kernel_flow_control");
            out.printf("%s%s  profile %s  rate %s bit/s  capacity %s bit/s  last report %s ms ago  changes %s"
                            + "  queue emptied %s%s%s%n",
                    r.get("dev"), "-".equals(r.get("netns")) ? "" : " (netns " + r.get("netns") + ")", r.get("profile"),
                    r.get("rate_bps"), r.get("capacity_bps"), r.get("report_age_ms"), r.get("changes"),
                    r.getOrDefault("flushes", "0"), stalled(r),
                    fc == null ? "" : "  kernel flow control " + ("true".equals(fc) ? "on" : "off"));
        }
    }

    /** The stall guard's word on a device: while stalled, for how long and what it dropped; its failure, if any. */
    private static String stalled(Map<String, String> r) {
        String s = "true".equals(r.get("stalled")) ? "  STALLED for " + r.get("stalled_for_ms") + " ms, "
                + r.get("stall_dropped") + " packet(s) dropped" : "";
        String error = r.getOrDefault("stall_error", "-");
        return "-".equals(error) ? s : s + " (could not free its senders: " + error + "; retrying)";
    }

    private static void reports(PrintWriter out, Answer a) {
        StringBuilder why = new StringBuilder();
        for (Map.Entry<String, String> r : a.refusedBy.entrySet()) {
            if (!"0".equals(r.getValue())) {
                why.append(why.length() == 0 ? " (" : ", ").append(r.getKey()).append(' ').append(r.getValue());
            }
        }
        out.println("reports: " + a.reports.getOrDefault("accepted", "0") + " accepted, "
                + a.reports.getOrDefault("refused", "0") + " refused" + (why.length() == 0 ? "" : why + ")"));
        Map<String, String> changes = a.changes;
        if (!changes.isEmpty() && !"0".equals(changes.get("count"))) {
            out.println("rate changes from reports: " + changes.get("count") + "; from a report's arrival to the "
                    + "kernel's ack p50 " + changes.get("p50_us") + " us, p99 " + changes.get("p99_us") + " us, max "
                    + changes.get("max_us") + " us (the last " + 4096 + ")");
        }
    }

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(StatusCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "status", "Ask the running daemon for its state.",
                "Each selected network namespace with its state (serving, or retrying and why), then per "
                + "interface: namespace, profile, current rate, capacity estimate, age of the last report, "
                + "number of rate changes, and of changes that emptied the queue (a fall deeper than it drains in twice "
                + "the latency), and for tun/tap devices whether kernel flow control (IFF_BACKPRESSURE) is on, from "
                + "the device's tun_flags in sysfs; reports accepted and refused by reason. --json prints the "
                + "daemon's answer as it is (per interface \"tun_flags\" and \"kernel_flow_control\", null where "
                + "they cannot be read; \"changes\": report-driven rate changes, \"count\" since start, and of the "
                + "last 4096, from a report's arrival to the kernel's ack, \"p50_us\", \"p99_us\", \"max_us\", the daemon's own part "
                + "from its recvmsg returning as \"handled_p50_us\" and so on, and \"slowest\": the 48 slowest, "
                + "slowest first, each with \"arrived\", when its report arrived (UTC), and \"us\").");
        c.top = top;
        c.spec = s;
        s.addOption(Specs.option(c, "socket", "--socket").paramLabel("PATH").defaultValue("/run/tunshape/control.sock")
                .description("The daemon's control socket (default: ${DEFAULT-VALUE}).").build());
        return s;
    }
}
