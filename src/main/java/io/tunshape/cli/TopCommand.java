package io.tunshape.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.tunshape.cli.TopModel.Observation;
import io.tunshape.cli.TopModel.Row;
import io.tunshape.cli.TopModel.Sort;
import io.tunshape.link.TunFlags;
import io.tunshape.netlink.Netns;
import io.tunshape.profile.PlanException;
import io.tunshape.shape.QdiscView;
import io.tunshape.shape.Session;
import io.tunshape.tc.Duration;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Stats;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.Units;
import picocli.CommandLine.Model.CommandSpec;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

public final class TopCommand implements Callable<Integer> {
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");

    TunshapeCommand top;

    CommandSpec spec;

    String interval;

    String sort;

    int iterations;

    boolean batch;

    String socket;

    /** For the shell completion. */
    static final class SortKeys implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return java.util.Arrays.stream(Sort.values()).map(s -> s.label).iterator();
        }
    }

    private volatile boolean stop;
    private final BlockingQueue<Integer> keys = new LinkedBlockingQueue<>();
    private static final int WAKE = -1;

    @Override
    public Integer call() throws Exception {
        Duration every = OptionValues.parse("--interval", interval, Units::parseTime);
        if (every.micros() < 100_000) {
            throw new PlanException("--interval", every + " is too short; at least 100ms");
        }
        if (iterations < 0) {
            throw new PlanException("--iterations", iterations + " is negative; 0 (until stopped) or more");
        }
        Sort by = OptionValues.parse("--sort", sort, Sort::parse);
        int history = (int) Math.max(10, Math.min(600, Math.round(60e6 / every.micros())));
        TopModel model = new TopModel(history);
        Object signals = Signals.install(this::requestStop);
        try (Sampler sampler = new Sampler(top.netns, socket)) {
            // the first round before the screen changes: a missing namespace or a refusal ends here, plainly
            model.update(System.nanoTime(), sampler.sample());
            boolean fullScreen = !batch && !top.json && Tty.isTerminal(0) && Tty.isTerminal(1);
            if (fullScreen) {
                return screen(model, sampler, every, by);
            }
            return lines(model, sampler, every, by);
        } finally {
            Signals.uninstall(signals);
        }
    }

    private void requestStop() {
        stop = true;
        keys.offer(WAKE);
    }

    private int lines(TopModel model, Sampler sampler, Duration every, Sort by) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        // the first round has no rates yet: the first line comes one interval later, complete
        long next = System.nanoTime() + every.micros() * 1000;
        for (int round = 1; !stop && (iterations == 0 || round <= iterations); round++) {
            if (!sleepUntil(next)) {
                break;
            }
            next += every.micros() * 1000;
            model.update(System.nanoTime(), sampler.sample());
            String clock = LocalTime.now().format(CLOCK);
            for (Row r : model.rows(by, false)) {
                out.println(top.json ? json(clock, r) : line(clock, r));
            }
            for (String n : sampler.notes()) {
                spec.commandLine().getErr().println("tunshape: top: " + n);
            }
            spec.commandLine().getErr().flush();
            out.flush();
            if (out.checkError()) {
                break; // the reader went away (head, a closed pipe)
            }
        }
        return ExitCodes.OK;
    }

    private boolean sleepUntil(long deadline) throws InterruptedException {
        while (!stop) {
            long wait = deadline - System.nanoTime();
            if (wait <= 0) {
                return true;
            }
            keys.poll(wait, TimeUnit.NANOSECONDS);
        }
        return false;
    }

    static String line(String clock, Row r) {
        Observation o = r.now();
        return String.format(Locale.ROOT, "%s %s qdisc=%s rate_bps=%s capacity_bps=%s sent_bps=%s backlog_bytes=%d "
                        + "backlog_packets=%d wait_ms=%s qdisc_drops=%d tun_drops=%d kernel_flow_control=%s",
                clock, r.label(), o.qdisc(), num(o.rateBps()), num(o.capacityBps()), num(r.sentBps()),
                o.backlogBytes(), o.backlogPackets(), num(r.backlogMs()), o.qdiscDrops(), o.tunDrops(),
                o.flowControl());
    }

    private static String num(long v) {
        return v == TopModel.NONE ? "-" : Long.toString(v);
    }

    static String json(String clock, Row r) {
        Observation o = r.now();
        StringWriter w = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(w)) {
            g.writeStartObject();
            g.writeStringField("time", clock);
            g.writeStringField("netns", o.netns());
            g.writeStringField("dev", o.dev());
            g.writeStringField("qdisc", o.qdisc());
            for (Object[] f : new Object[][] {{"rate_bps", o.rateBps()}, {"capacity_bps", o.capacityBps()},
                {"sent_bps", r.sentBps()}, {"backlog_bytes", o.backlogBytes()},
                {"backlog_packets", o.backlogPackets()}, {"wait_ms", r.backlogMs()},
                {"qdisc_drops", o.qdiscDrops()}, {"tun_drops", o.tunDrops()}}) {
                long v = (Long) f[1];
                if (v == TopModel.NONE) {
                    g.writeNullField((String) f[0]);
                } else {
                    g.writeNumberField((String) f[0], v);
                }
            }
            if (o.flowControl().equals("on") || o.flowControl().equals("off")) {
                g.writeBooleanField("kernel_flow_control", o.flowControl().equals("on"));
            } else {
                g.writeNullField("kernel_flow_control"); // not tun/tap, or its tun_flags could not be read
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return w.toString();
    }

    private int screen(TopModel model, Sampler sampler, Duration every, Sort by) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false,
                Tty.utf8() ? StandardCharsets.UTF_8 : StandardCharsets.US_ASCII);
        boolean reverse = false;
        boolean unicode = Tty.utf8();
        Object resize = Signals.installResize(() -> keys.offer(WAKE));
        try (Tty tty = Tty.open(out)) {
            Thread reader = keyReader();
            long next = System.nanoTime() + every.micros() * 1000;
            int round = 0;
            while (!stop) {
                int[] size = tty.size();
                String clock = LocalTime.now().format(CLOCK);
                tty.draw(TopScreen.render(new TopScreen.Header(clock, every.micros(), sampler.namespaces(),
                        sampler.daemon(), by, reverse, sampler.notes(), unicode), model.rows(by, reverse), size[1], size[0]));
                Integer k = keys.poll(Math.max(0, next - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (k == null) {
                    next += every.micros() * 1000;
                    model.update(System.nanoTime(), sampler.sample());
                    if (iterations > 0 && ++round >= iterations) {
                        break;
                    }
                } else if (k == 'q' || k == 'Q' || k == 3 || k == 4) { // q, Ctrl-C (should isig be off), Ctrl-D
                    break;
                } else if (k >= 0 && Sort.forKey((char) k.intValue()) != null) {
                    Sort s = Sort.forKey((char) k.intValue());
                    reverse = s == by && !reverse;
                    by = s;
                }
            }
            reader.interrupt();
        } finally {
            Signals.uninstall(resize);
        }
        return ExitCodes.OK;
    }

    /** Keys from the terminal, one byte each, into the queue the screen loop waits on. */
    private Thread keyReader() throws IOException {
        InputStream in = Tty.keys();
        Thread t = new Thread(() -> {
            try (in) {
                int b;
                while (!stop && (b = in.read()) >= 0) {
                    keys.offer(b);
                }
            } catch (IOException e) {
                // the terminal went away: nothing more to read
            }
        }, "top-keys");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Reads the devices of each namespace through one netlink socket per namespace (opened inside it
     * once and kept), and the daemon's status for capacities and the namespaces it serves.
     */
    static final class Sampler implements AutoCloseable {
        private final String netns;
        private final String socket;
        private final TcCodec codec = new TcCodec(Psched.system());
        private final Map<String, Session> sessions = new LinkedHashMap<>();
        private final List<String> notes = new ArrayList<>();
        private final Set<String> namespaces = new LinkedHashSet<>();
        /** Labels of the daemon's namespaces to the paths that open them. */
        private final Map<String, String> paths = new LinkedHashMap<>();
        private String daemon = "-";

        Sampler(String netns, String socket) {
            this.netns = netns;
            this.socket = socket;
        }

        List<Observation> sample() throws Exception {
            notes.clear();
            namespaces.clear();
            Map<String, long[]> daemonRows = new LinkedHashMap<>();
            Set<String> wanted = new LinkedHashSet<>();
            wanted.add(key(netns));
            try {
                String status = ControlSocket.query(socket);
                int n = 0;
                for (Map<String, String> r : ControlSocket.interfaces(status)) {
                    String ns = r.get("netns");
                    wanted.add(key(ns));
                    if (ns != null && r.get("netns_path") != null) {
                        // an unnamed namespace (a container's, an emulator node's) has a label, not a name:
                        // it is opened by its path
                        paths.put(ns, r.get("netns_path"));
                    }
                    daemonRows.put(key(ns) + "\0" + r.get("dev"),
                            new long[] {parse(r.get("rate_bps")), parse(r.get("capacity_bps"))});
                    n++;
                }
                daemon = socket + " (" + n + (n == 1 ? " device)" : " devices)");
            } catch (IOException e) {
                daemon = "none on " + socket;
            }
            List<Observation> out = new ArrayList<>();
            for (String k : wanted) {
                String ns = k.isEmpty() ? null : k;
                namespaces.add(ns == null ? "(this one)" : ns);
                List<Session.Shown> shown;
                try {
                    shown = session(ns).show(List.of());
                } catch (Netns.NoSuchNamespaceException e) {
                    if (k.equals(key(netns))) {
                        throw e;
                    }
                    notes.add(e.getMessage());
                    continue;
                } catch (RuntimeException e) {
                    Session s = sessions.remove(k);
                    if (s != null) {
                        s.close();
                    }
                    if (k.equals(key(netns))) {
                        throw e; // the namespace asked for: its failure is the command's
                    }
                    notes.add("netns " + (ns == null ? "(the daemon's)" : ns) + ": " + e.getMessage());
                    continue;
                }
                Map<String, Integer> flags = TunFlags.ofLinks(open(ns), shown.stream().map(Session.Shown::link).toList());
                for (Session.Shown s : shown) {
                    long[] d = daemonRows.get(k + "\0" + s.link().name());
                    out.add(observe(ns, s, d, flags.get(s.link().name())));
                }
            }
            return out;
        }

        private Session session(String ns) throws Exception {
            Session s = sessions.get(key(ns));
            if (s == null) {
                s = Netns.run(open(ns), () -> new Session(ns, codec));
                sessions.put(key(ns), s);
            }
            return s;
        }

        /** What opens namespace {@code ns}: its name, or the path the daemon gave for its label. */
        private String open(String ns) {
            return ns == null || ns.equals(netns) ? ns : paths.getOrDefault(ns, ns);
        }

        private static String key(String ns) {
            return ns == null ? "" : ns;
        }

        private static long parse(String v) {
            try {
                return v == null || v.equals("-") ? TopModel.NONE : Long.parseLong(v);
            } catch (NumberFormatException e) {
                return TopModel.NONE;
            }
        }

        /** {@code tunFlags}: the device's tun_flags (null: not read, or not tun/tap). */
        static Observation observe(String ns, Session.Shown s, long[] daemonRow, Integer tunFlags) {
            QdiscView v = s.qdisc();
            long rate = TopModel.NONE;
            String kind;
            Stats st;
            if (v == null) {
                kind = s.defaultKind() == null ? "none" : s.defaultKind();
                st = s.defaultStats();
            } else {
                kind = v.kind() + (v.managed() ? "" : "*");
                st = v.stats();
                if (v.tbf() != null) {
                    rate = v.tbf().rate().bitsPerSecond();
                } else if (v.htb() != null) {
                    for (HtbClassSpec c : v.htb().classes()) {
                        if (c.parentMinor() == 0) {
                            rate = c.rate().bitsPerSecond(); // the link class: the rate the device is shaped to
                        }
                    }
                }
            }
            if (rate == TopModel.NONE && daemonRow != null) {
                rate = daemonRow[0];
            }
            if (st == null) {
                st = Stats.ZERO;
            }
            return new Observation(ns, s.link().name(), s.link().kind(), kind, rate,
                    daemonRow == null ? TopModel.NONE : daemonRow[1], st.backlog(), st.qlen(), st.drops(),
                    s.link().txDropped(), s.link().txBytes(), !s.link().isTunTap() ? "-"
                    : tunFlags == null ? "?" : TunFlags.flowControl(tunFlags) ? "on" : "off");
        }

        List<String> notes() {
            return List.copyOf(notes);
        }

        List<String> namespaces() {
            return List.copyOf(namespaces);
        }

        String daemon() {
            return daemon;
        }

        @Override
        public void close() {
            for (Session s : sessions.values()) {
                s.close();
            }
            sessions.clear();
        }
    }

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(TopCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "top", "A live view of tun/tap devices: rate, capacity, backlog, drops and their last minute.",
                "Every --interval: per tun/tap device of the namespace (--netns picks it) the shaping rate, the daemon's "
                + "capacity estimate when a daemon answers on --socket, what the device sent to its reader "
                + "(bit/s), the qdisc's backlog in bytes, packets and as the wait at the rate, and drops in the "
                + "qdisc and at tun's ring (totals, with the new ones since the last refresh), and whether kernel "
                + "flow control (IFF_BACKPRESSURE) is on (KERNEL FC: on, off, ? where the device's tun_flags "
                + "cannot be read, - for devices that are not tun/tap). When a daemon "
                + "answers, the devices of every namespace it serves are shown too.",
                "On a terminal the view is full-screen: below the table, the last minute of rate, capacity and sent "
                + "(one scale) and of the backlog, as sparklines, for as many devices as fit. Keys: n, r, c, s, "
                + "b, d sort by name, rate, capacity, sent, backlog or drops (the same key again reverses); q "
                + "or Ctrl-C quits and gives the terminal back as it was.",
                "Without a terminal (a pipe), or with --batch or --json, it prints one line per device per interval "
                + "instead (JSON with --json).");
        c.top = top;
        c.spec = s;
        s.addOption(Specs.option(c, "interval", "--interval").paramLabel("DURATION").defaultValue("1s")
                .description("Time between refreshes (default: ${DEFAULT-VALUE}; at least 100ms).").build());
        s.addOption(Specs.option(c, "sort", "--sort").paramLabel("KEY").completionCandidates(new SortKeys()).defaultValue("name")
                .description("name, rate, capacity, sent, backlog or drops (default: ${DEFAULT-VALUE}; biggest first, "
                        + "except name).").build());
        s.addOption(Specs.option(c, "iterations", "-n", "--iterations").paramLabel("N").defaultValue("0")
                .description("Stop after N refreshes (default: until q, Ctrl-C or SIGTERM).").build());
        s.addOption(Specs.option(c, "batch", "-b", "--batch")
                .description("One line per device per interval even on a terminal.").build());
        s.addOption(Specs.option(c, "socket", "--socket").paramLabel("PATH").defaultValue("/run/tunshape/control.sock")
                .description("The daemon's control socket, for capacity estimates and the namespaces it serves "
                        + "(default: ${DEFAULT-VALUE}; no daemon there is not an error).").build());
        return s;
    }
}
