package io.tunshape.cli;

import io.tunshape.demo.Demo;
import io.tunshape.demo.DemoFigure;
import io.tunshape.profile.Mode;
import io.tunshape.profile.PlanException;
import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Units;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

public final class DemoCommand implements Callable<Integer> {
    TunshapeCommand top;

    CommandSpec spec;

    String rate;

    String profile;

    double seconds;

    int payload;

    Path plot;

    /**
     * What the demo shapes with: the backend's rate, the request and its name in the table; the third
     * row's request and name (null where the kernel does not offer IFF_BACKPRESSURE).
     */
    private record Shaping(Rate rate, ShapingRequest request, String name, ShapingRequest flowControl,
                           String flowControlName) {
    }

    @Override
    public Integer call() throws Exception {
        validate();
        Shaping shaping = shaping();
        Rate r = shaping.rate();
        List<Demo.Row> rows = run(shaping);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (plot != null && !rows.isEmpty()) {
            DemoFigure.write(plot, rows, r, seconds, payload);
            err.println("tunshape demo: figure written to " + plot);
            err.flush();
        }
        String missing = shaping.flowControl() == null ? "a third row, kernel flow control with tunshape's queue "
                + "and no exact rate, needs Linux 7.3's IFF_BACKPRESSURE (not offered by this kernel: "
                + io.tunshape.pump.KernelFlowControl.kernelRelease() + ")" : null;
        if (top.json) {
            json(out, r, rows, missing);
        } else {
            table(out, r, rows, missing);
        }
        return ExitCodes.OK;
    }

    private void validate() {
        if (plot != null) {
            Path dir = plot.toAbsolutePath().getParent();
            if (dir == null || !Files.isDirectory(dir) || !Files.isWritable(dir)) {
                throw new PlanException("--plot", "cannot write " + plot + ": " + dir
                        + " is not a writable directory");
            }
            if (Files.isDirectory(plot)) {
                throw new PlanException("--plot", plot + " is a directory; give a file name such as demo.svg");
            }
        }
        if (!(seconds >= 1 && seconds <= 60)) {
            throw new PlanException("--seconds", seconds + " is out of range; accepted: 1 to 60");
        }
        if (payload < 16 || payload > 1472) {
            throw new PlanException("--payload", payload + " is out of range; accepted: 16 to 1472 bytes");
        }
    }

    private Shaping shaping() {
        Planner planner = new Planner(Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
        Rate r;
        ShapingRequest req;
        String name;
        if (profile != null) {
            Profile p = new ProfileLoader(ProfileLoader.defaultPath(), planner).load(profile);
            r = p.link().rate();
            req = p.request();
            name = "profile " + p.name();
        } else {
            r = OptionValues.parse("--rate", rate, Units::parseRate);
            if (r.bytesPerSecond() == 0) {
                throw new PlanException("--rate", "'" + rate + "' is 0 bytes/s; at least 8bit");
            }
            req = new ShapingRequest("tbf", r, rate, null, null, null, null, Mode.BACKPRESSURE, 1, 0, 0, null);
            name = "tunshape backpressure";
        }
        if (!Demo.kernelFlowControlOffered()) {
            return new Shaping(r, req, name, null, null);
        }
        // no rate: the kernel's flow control stops the queue when the pump's ring is full, so the
        // pump's pace is the clock and tunshape's queue only has to hold the sender's buffer
        ShapingRequest fc = new ShapingRequest("tbf", ShapingRequest.READER_RATE, ShapingRequest.READER, null, null,
                null, null, Mode.BACKPRESSURE, 1, 0, 0, null);
        return new Shaping(r, req, name, fc, "kernel flow control, tunshape's queue, no rate (--rate reader)");
    }

    private List<Demo.Row> run(Shaping shaping) throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Demo demo = new Demo();
        Object signals = Signals.install(demo::stop);
        List<Demo.Row> rows;
        try {
            Progress progress = new Progress(err, Tty.isTerminal(2));
            java.util.function.Consumer<String> say = line -> {
                synchronized (err) {
                    progress.endLine();
                    err.println("tunshape demo: " + line);
                    err.flush();
                }
            };
            rows = demo.run(new Demo.Options(shaping.rate(), shaping.request(), shaping.name(), shaping.flowControl(),
                    shaping.flowControlName(), seconds, payload, say, progress::show));
            progress.endLine();
        } finally {
            Signals.uninstall(signals);
        }
        return rows;
    }

    /** {@code missing}: why there is no third row (null: there is one). */
    private void json(PrintWriter out, Rate r, List<Demo.Row> rows, String missing) {
        Json.print(out, g -> {
            g.writeStartObject();
            g.writeNumberField("rate_bps", r.bitsPerSecond());
            g.writeNumberField("payload_bytes", payload);
            g.writeNumberField("seconds", seconds);
            g.writeObjectFieldStart("kernel_flow_control");
            g.writeBooleanField("offered", missing == null);
            g.writeStringField("kernel", io.tunshape.pump.KernelFlowControl.kernelRelease());
            g.writeStringField("note", missing);
            g.writeEndObject();
            g.writeArrayFieldStart("rows");
            for (Demo.Row row : rows) {
                g.writeStartObject();
                g.writeStringField("qdisc", row.qdisc());
                g.writeNumberField("sent", row.sent());
                g.writeNumberField("delivered", row.delivered());
                g.writeNumberField("dropped_at_tun", row.droppedAtTun());
                g.writeNumberField("dropped_in_qdisc", row.droppedInQdisc());
                g.writeNumberField("goodput_bps", Math.round(row.goodputBps()));
                g.writeNumberField("longest_wait_us", Math.round(row.longestWaitMs() * 1000));
                g.writeNumberField("sender_blocked_us", Math.round(row.senderBlockedSeconds() * 1e6));
                g.writeBooleanField("kernel_flow_control", row.kernelFlowControl());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    private void table(PrintWriter out, Rate r, List<Demo.Row> rows, String missing) {
        out.printf("tun0 behind a pump emulating a %s backend; one UDP sender, default socket buffers, %d-byte "
                + "datagrams for %s s per row%n%n", r, payload, fmt(seconds));
        String[] head = {"tun0 root qdisc", "app sent", "delivered", "dropped", "goodput", "longest wait"};
        List<String[]> cells = new java.util.ArrayList<>();
        for (Demo.Row row : rows) {
            String dropped = row.droppedAtTun() + row.droppedInQdisc() == 0 ? "0"
                    : (row.droppedAtTun() > 0 ? String.format(Locale.ROOT, "%,d at tun", row.droppedAtTun()) : "")
                    + (row.droppedAtTun() > 0 && row.droppedInQdisc() > 0 ? ", " : "")
                    + (row.droppedInQdisc() > 0 ? String.format(Locale.ROOT, "%,d in the qdisc", row.droppedInQdisc())
                    : "");
            String sent = String.format(Locale.ROOT, "%,d", row.sent())
                    + (row.senderBlockedSeconds() > 0.1 ? String.format(Locale.ROOT, " (blocked %.1f s)",
                    row.senderBlockedSeconds()) : "");
            cells.add(new String[] {row.qdisc(), sent, String.format(Locale.ROOT, "%,d", row.delivered()), dropped,
                String.format(Locale.ROOT, "%.3f Mbit/s", row.goodputBps() / 1e6),
                io.tunshape.tc.Duration.format(row.longestWaitMs() * 1000)});
        }
        int[] w = new int[head.length];
        for (int i = 0; i < head.length; i++) {
            w[i] = head[i].length();
            for (String[] c : cells) {
                w[i] = Math.max(w[i], c[i].length());
            }
        }
        line(out, head, w);
        StringBuilder sep = new StringBuilder("|");
        for (int x : w) {
            sep.append(' ').append("-".repeat(x)).append(" |");
        }
        out.println(sep);
        for (String[] c : cells) {
            line(out, c, w);
        }
        out.println();
        out.println("Without shaping the sender is never slowed and tun drops the excess silently; with a queue deep "
                + "enough for the sender's socket buffer, the sender blocks and nothing is lost.");
        if (missing == null) {
            out.println("With the kernel's flow control, tun stops the queue instead of dropping: tunshape's queue "
                    + "holds what the link cannot take yet and the sender blocks, whatever the rate.");
        } else {
            out.println();
            out.println(Character.toUpperCase(missing.charAt(0)) + missing.substring(1) + ".");
        }
        out.flush();
    }

    /**
     * Each row's progress on stderr: on a terminal one line rewritten in place about ten times a
     * second; otherwise a line a second, so that logs stay short.
     */
    static final class Progress {
        private final PrintWriter err;
        private final boolean inPlace;
        private boolean open;
        private long lastWhole = -1;
        private int lastRow;

        Progress(PrintWriter err, boolean inPlace) {
            this.err = err;
            this.inPlace = inPlace;
        }

        void show(Demo.Progress p) {
            Demo.Sample s = p.now();
            long whole = (long) Math.floor(s.seconds());
            if (!inPlace && p.row() == lastRow && whole == lastWhole) {
                return;
            }
            lastRow = p.row();
            lastWhole = whole;
            String what = s.draining() ? "sender done at " + fmt(p.seconds()) + " s, queue draining"
                    : String.format(Locale.ROOT, "%.1f s of %s s", s.seconds(), fmt(p.seconds()));
            String text = String.format(Locale.ROOT, "row %d of %d: %s; sent %,d, delivered %,d, dropped %,d at tun, "
                            + "%,d in the qdisc", p.row(), p.rows(), what, s.sent(), s.delivered(), s.droppedAtTun(),
                    s.droppedInQdisc());
            synchronized (err) {
                if (inPlace) {
                    err.print("\r\033[K" + text);
                    open = true;
                } else {
                    err.println("tunshape demo: " + text);
                }
                err.flush();
            }
        }

        /** Ends the line being rewritten, so that what follows starts on a line of its own. */
        void endLine() {
            synchronized (err) {
                if (open) {
                    err.println();
                    err.flush();
                    open = false;
                }
            }
        }
    }

    private static String fmt(double s) {
        return s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s);
    }

    private static void line(PrintWriter out, String[] c, int[] w) {
        StringBuilder b = new StringBuilder("|");
        for (int i = 0; i < c.length; i++) {
            b.append(' ').append(String.format("%-" + w[i] + "s", c[i])).append(" |");
        }
        out.println(b);
    }

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(DemoCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "demo", "Show the problem and the fix on this machine, in a throwaway namespace.",
                "In a fresh network namespace (gone when the command ends, even if killed), a tun device, a "
                + "pump emulating a slow backend, and a UDP sender with default socket buffers: first with the "
                + "kernel's default qdisc, then with tunshape's backpressure plan, and where the kernel offers "
                + "IFF_BACKPRESSURE (Linux 7.3) a third row: tun0 opened with the kernel's flow control, behind "
                + "tunshape's queue at a rate 10 times the backend's (the exact rate no longer matters). Elsewhere "
                + "a line says what the third row needs. The table shows what the "
                + "application sent, what the backend got, what was dropped and where, the goodput, and the longest "
                + "wait. Needs root (it makes a namespace and a tun device). Each row's progress goes to stderr (one "
                + "line rewritten in place on a terminal, a line a second otherwise); --plot also draws both rows "
                + "over time as an SVG figure.");
        c.top = top;
        c.spec = s;
        s.addOption(Specs.option(c, "rate", "--rate").paramLabel("RATE").defaultValue("1mbit")
                .description("The emulated backend's rate (default: ${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "profile", "-p", "--profile").paramLabel("PROFILE")
                .description("Shape with this profile, at its rate, instead of a backpressure plan at --rate.").build());
        s.addOption(Specs.option(c, "seconds", "--seconds").paramLabel("S").defaultValue("5")
                .description("How long the sender sends in each row (default: ${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "payload", "--payload").paramLabel("BYTES").defaultValue("1000")
                .description("UDP payload size (default: ${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "plot", "--plot").paramLabel("FILE.svg")
                .description("Also write the two rows as a figure: the rate the backend got and the drops, over time.").build());
        return s;
    }
}
