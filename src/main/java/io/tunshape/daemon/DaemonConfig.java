package io.tunshape.daemon;

import io.tunshape.profile.Fields;
import io.tunshape.profile.ProfileException;
import io.tunshape.profile.YamlNode;
import io.tunshape.profile.YamlReader;
import io.tunshape.tc.Duration;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** The daemon's configuration (SPEC section 7), validated with positions like profiles. */
public record DaemonConfig(String file, String reportSocket, String controlSocket, String metrics,
                           boolean restoreOnExit, List<Entry> interfaces, RateController.Tuning tuning,
                           Scheduling reportScheduling, long stallAfterMs) {
    /** stall_after's default: a device with kernel flow control whose reader took nothing this long is stalled. */
    public static final long STALL_AFTER_MS = 2000;
    /** stall_after's bounds (the guard samples four times in it, at most four times a second). */
    static final long STALL_AFTER_MIN_MS = 100;
    static final long STALL_AFTER_MAX_MS = 3_600_000;

    /**
     * Interfaces matching {@code match} in the namespaces this rule selects: every given selector
     * must match ({@code netns}: "*" for every namespace, or a glob on a mounted namespace's name;
     * {@code hostname}: the hostname its processes see; {@code command}: the command name or command
     * line of the process that holds it; {@code container}: a container's id or name); with none
     * given, the daemon's own namespace.
     */
    public record Entry(String match, String netns, String profile, boolean adaptive, String hostname,
                        String command, String container) {
        public Entry(String match, String netns, String profile, boolean adaptive) {
            this(match, netns, profile, adaptive, null, null, null);
        }

        /** Whether this rule selects the namespace {@code f} describes. */
        boolean selects(NsFacts f) {
            if (netns == null && hostname == null && command == null && container == null) {
                return f.own();
            }
            if (netns != null && !netns.equals("*") && !anyMatches(netns, f.names())) {
                return false;
            }
            if (hostname != null && (f.hostname() == null || !glob(hostname).matcher(f.hostname()).matches())) {
                return false;
            }
            if (command != null && !anyMatches(command, java.util.Arrays.asList(f.command(), f.commandLine()))) {
                return false;
            }
            return container == null || anyMatches(container, java.util.Arrays.asList(f.containerId(),
                    f.containerName()));
        }

        /** Whether a selector needs more than a namespace's names to decide. */
        boolean needsProcessFacts() {
            return hostname != null || command != null || container != null;
        }

        private static boolean anyMatches(String g, List<String> values) {
            java.util.regex.Pattern p = glob(g);
            for (String v : values) {
                if (v != null && p.matcher(v).matches()) {
                    return true;
                }
            }
            return false;
        }

        /** Whether the shell glob {@code g} matches {@code name}. */
        static boolean globMatches(String g, String name) {
            return glob(g).matcher(name).matches();
        }

        private static java.util.regex.Pattern glob(String g) {
            return GLOBS.computeIfAbsent(g, io.tunshape.shape.Session::globPattern);
        }
    }

    private static final java.util.Map<String, java.util.regex.Pattern> GLOBS =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * How the report thread is scheduled: under SCHED_DEADLINE with {@code runtimeNs} of CPU in every
     * {@code periodNs} ({@code deadline}), or like any thread (the default: on an idle two-CPU VM a
     * real-time thread was woken on the other, halted CPU and came slower, p99 up to 2 ms against
     * 0.34-0.53 ms; on busy CPUs SCHED_DEADLINE kept it at 0.4 ms against 4 ms).
     */
    public record Scheduling(boolean deadline, long runtimeNs, long periodNs) {
        public static final Scheduling DEFAULT = new Scheduling(false, 2_000_000, 10_000_000);
    }

    /** report_scheduling's policies. */
    enum Policy { NORMAL, DEADLINE }

    static final Set<String> TOP = Set.of("report_socket", "control_socket", "metrics", "restore_on_exit",
            "interfaces", "control", "report_scheduling", "stall_after");
    static final Set<String> SCHEDULING = Set.of("policy", "runtime", "period");
    static final Set<String> ENTRY = Set.of("match", "netns", "profile", "adaptive", "hostname", "command",
            "container");
    static final Set<String> CONTROL = Set.of("smoothing", "hysteresis", "min_interval", "stale_after", "drain",
            "ring_target");

    public static DaemonConfig load(Path file) {
        String shown = file.toString();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ProfileException(shown, 0, 0, "no such file");
        } catch (IOException e) {
            throw new ProfileException(shown, 0, 0, "cannot read: " + e.getMessage());
        }
        return parse(bytes, shown);
    }

    private static final java.util.regex.Pattern LOOPBACK_PORT =
            java.util.regex.Pattern.compile("(127\\.\\d+\\.\\d+\\.\\d+|\\[::1]|localhost):\\d{1,5}");

    public static DaemonConfig parse(byte[] bytes, String file) {
        YamlNode root = YamlReader.read(bytes, file);
        Fields top = Fields.of(file, "", root, TOP);
        String report = path(top, "report_socket", "/run/tunshape/report.sock");
        String control = path(top, "control_socket", "/run/tunshape/control.sock");
        String metrics = top.string("metrics", false);
        if (metrics != null && !LOOPBACK_PORT.matcher(metrics).matches()) {
            throw top.error("metrics", "'" + metrics + "' is not accepted; metrics are served on loopback only: "
                    + "127.0.0.1:PORT, [::1]:PORT or localhost:PORT");
        }
        boolean restore = top.bool("restore_on_exit", true);
        List<Entry> entries = new ArrayList<>();
        List<YamlNode> items = top.list("interfaces");
        if (items.isEmpty()) {
            throw top.error("interfaces", "missing or empty; list the interfaces to shape (match:, profile:)");
        }
        for (int i = 0; i < items.size(); i++) {
            Fields e = Fields.of(file, "interfaces[" + i + "]", items.get(i), ENTRY);
            String match = e.string("match", true);
            if (match.isBlank() || match.contains("/")) {
                throw e.error("match", "'" + match + "' is not an interface name or glob");
            }
            String netns = e.string("netns", false);
            if (netns != null && (netns.isBlank() || netns.contains("/"))) {
                throw e.error("netns", "'" + netns + "' is not a namespace name or glob (\"*\" for every namespace, or "
                        + "the name of a mounted one such as those under /var/run/netns; a path is not accepted: "
                        + "select unnamed namespaces with hostname:, command: or container:)");
            }
            String[] sel = new String[3];
            String[] keys = {"hostname", "command", "container"};
            for (int k = 0; k < keys.length; k++) {
                sel[k] = e.string(keys[k], false);
                if (sel[k] != null && sel[k].isBlank()) {
                    throw e.error(keys[k], "is empty; give a name or a glob (e.g. \"n*\")");
                }
            }
            entries.add(new Entry(match, netns, e.string("profile", true), e.bool("adaptive", false), sel[0], sel[1],
                    sel[2]));
        }
        return new DaemonConfig(file, report, control, metrics, restore, entries, tuning(top), scheduling(top),
                stallAfter(top));
    }

    /** stall_after: how long a reader with kernel flow control may take nothing while packets wait. */
    private static long stallAfter(Fields top) {
        Duration d = top.time("stall_after");
        if (d == null) {
            return STALL_AFTER_MS;
        }
        long ms = d.micros() / 1000;
        if (ms < STALL_AFTER_MIN_MS || ms > STALL_AFTER_MAX_MS) {
            throw top.error("stall_after", "'" + d + "' is not accepted; from 100ms to 3600s (e.g. 2s: a device with "
                    + "kernel flow control whose reader took nothing this long while packets waited is stalled)");
        }
        return ms;
    }

    /** The controller's tunables: the control: section, or the defaults. */
    private static RateController.Tuning tuning(Fields top) {
        RateController.Tuning t = RateController.Tuning.DEFAULT;
        Fields c = top.sub("control", CONTROL);
        if (c != null) {
            double alpha = c.percent("smoothing", t.alpha(), 1.0);
            if (alpha <= 0) {
                throw c.error("smoothing", "must be above 0 (the weight of a new sample, e.g. 30%)");
            }
            double hyst = c.percent("hysteresis", t.hysteresis(), 0.5);
            Duration min = c.time("min_interval");
            Duration stale = c.time("stale_after");
            Duration drain = c.time("drain");
            Duration ring = c.time("ring_target");
            t = new RateController.Tuning(alpha, hyst, min == null ? t.minIntervalMs() : min.micros() / 1000,
                    stale == null ? t.staleMs() : stale.micros() / 1000, t.minBusyMs(),
                    drain == null ? t.drainMs() : drain.micros() / 1000,
                    ring == null ? t.ringTargetMs() : ring.micros() / 1000);
            if (t.staleMs() <= 0) {
                throw c.error("stale_after", "must be above 0");
            }
            if (t.drainMs() <= 0) {
                throw c.error("drain", "must be at least 1ms (the time to empty tun's ring in, e.g. 1s)");
            }
        }
        return t;
    }

    private static Scheduling scheduling(Fields top) {
        Scheduling d = Scheduling.DEFAULT;
        Fields f = top.sub("report_scheduling", SCHEDULING);
        if (f == null) {
            return d;
        }
        boolean deadline = f.choice("policy", Policy.class, Policy.NORMAL) == Policy.DEADLINE;
        Duration runtime = f.time("runtime");
        Duration period = f.time("period");
        if (!deadline && (runtime != null || period != null)) {
            throw f.error(runtime != null ? "runtime" : "period",
                    "applies to policy: deadline only (the default policy is normal)");
        }
        long p = period == null ? d.periodNs() : period.micros() * 1000;
        // without a runtime, the default's share of a CPU (a fifth) of the period
        long r = runtime == null ? p * d.runtimeNs() / d.periodNs() : runtime.micros() * 1000;
        // the kernel's bounds: a period from 100 us (sched_deadline_period_min_us) up; at most 1 s here
        if (period != null && (p < 100_000 || p > 1_000_000_000)) {
            throw f.error("period", "'" + period + "' is not accepted; from 100us to 1s (e.g. 10ms)");
        }
        if (runtime != null && (r < 10_000 || r > p)) {
            throw f.error("runtime", "'" + runtime + "' is not accepted; from 10us up to the period, " + period(p)
                    + " (e.g. 2ms: the share of a CPU the report thread may take is runtime / period)");
        }
        return new Scheduling(deadline, r, p);
    }

    private static String period(long ns) {
        return Duration.ofMicros(ns / 1000).toString();
    }

    private static String path(Fields f, String key, String dflt) {
        String p = f.string(key, false);
        if (p == null) {
            return dflt;
        }
        if (!p.startsWith("/")) {
            throw f.error(key, "'" + p + "' is not an absolute path");
        }
        return p;
    }
}
