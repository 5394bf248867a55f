package io.tunshape.cli;

import io.tunshape.link.LinkClient;
import io.tunshape.pump.DeviceCounters;
import io.tunshape.tc.Psched;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.NetlinkSocket;
import io.tunshape.profile.PlanException;
import io.tunshape.pump.Backend;
import io.tunshape.pump.Backends;
import io.tunshape.pump.Interval;
import io.tunshape.pump.KernelFlowControl;
import io.tunshape.pump.LinkModel;
import io.tunshape.pump.Pump;
import io.tunshape.pump.Reporter;
import io.tunshape.pump.TraceModel;
import io.tunshape.shape.NoSuchInterfaceException;
import io.tunshape.tc.Duration;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Units;
import io.tunshape.tun.TunDevice;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

public final class PumpCommand implements Callable<Integer> {
    TunshapeCommand top;

    CommandSpec spec;

    String dev;

    boolean tun;

    boolean tap;

    boolean create;

    String backendSpec;

    String listen;

    int baud;

    String framing;

    String emulateRate;

    Path emulateTrace;

    double traceScale;

    String report;

    String reportInterval;

    boolean stats;

    boolean noOffload;

    String kernelFlowControl;


    @Override
    public Integer call() throws Exception {
        if (tun && tap) {
            throw new PlanException("--tap", "give --tun or --tap, not both");
        }
        Duration interval = OptionValues.parse("--report-interval", reportInterval, Units::parseTime);
        if (interval.micros() < 10_000) {
            throw new PlanException("--report-interval", interval + " is too short; at least 10ms");
        }
        Rate rate = emulatedRate();
        long[] trace = trace();
        Backend backend = OptionValues.parse("--backend", backendSpec, s -> Backends.parse(s, listen, baud, framing));
        KernelFlowControl flowMode = OptionValues.parse("--kernel-flow-control", kernelFlowControl,
                KernelFlowControl::parse);
        PrintWriter err = spec.commandLine().getErr();
        java.util.function.Consumer<String> log = line -> {
            synchronized (err) {
                err.println("tunshape: pump " + dev + ": " + line);
                err.flush();
            }
        };
        Pump[] running = new Pump[1];
        Object signals = Signals.install(() -> {
            synchronized (running) {
                if (running[0] != null) {
                    running[0].stop();
                }
            }
        });
        try {
            // before the device is opened or created: "on" where the kernel lacks it changes nothing
            KernelFlowControl.Decision flow = flowMode.decide(TunDevice.features(), KernelFlowControl.kernelRelease());
            top.inNetns(() -> run(backend, rate, trace, interval, log, running, flow));
        } catch (Pump.DeviceGoneException | KernelFlowControl.NotOfferedException e) {
            err.println("tunshape: pump " + dev + ": " + e.getMessage());
            err.flush();
            return ExitCodes.REFUSED;
        } finally {
            Signals.uninstall(signals);
        }
        return ExitCodes.OK;
    }

    /** --emulate-rate, checked against --emulate-trace and --trace-scale; null when not given. */
    private Rate emulatedRate() {
        if (emulateRate != null && emulateTrace != null) {
            throw new PlanException("--emulate-rate", "give --emulate-rate or --emulate-trace, not both");
        }
        if (!(traceScale > 0 && traceScale <= 1e6)) {
            throw new PlanException("--trace-scale", traceScale + " is out of range; accepted: more than 0");
        }
        Rate rate = emulateRate == null ? null : OptionValues.parse("--emulate-rate", emulateRate, Units::parseRate);
        if (rate != null && rate.bytesPerSecond() == 0) {
            throw new PlanException("--emulate-rate", "'" + emulateRate + "' is 0 bytes/s; at least 8bit");
        }
        return rate;
    }

    private long[] trace() {
        long[] trace = null;
        if (emulateTrace != null) {
            try {
                trace = TraceModel.read(emulateTrace);
            } catch (IOException e) {
                throw new PlanException("--emulate-trace", e.getMessage());
            }
        }
        return trace;
    }

    /** Runs the pump in the chosen namespace until it is stopped (a signal) or its device goes. */
    private Void run(Backend backend, Rate rate, long[] trace, Duration interval,
                     java.util.function.Consumer<String> log, Pump[] running, KernelFlowControl.Decision flow)
            throws Exception {
        boolean offload = !noOffload && !tap && rate == null && trace == null;
        try (NetlinkSocket nl = NetlinkSocket.open(); TunDevice d = open(nl, log, offload, flow.on());
             Reporter rep = new Reporter(report)) {
            LinkClient links = new LinkClient(nl);
            TcClient tc = new TcClient(nl, new TcCodec(Psched.system()));
            int index = find(links, d.name()).index();
            long epoch = System.nanoTime();
            LinkModel model = rate != null ? LinkModel.rate(rate.bytesPerSecond())
                    : trace != null ? new TraceModel(trace, traceScale, epoch) : null;
            Pump pump = new Pump(d, backend, new Pump.Options(top.netns, model, interval.micros() / 1000,
                    rep, stats ? this::printStats : null, log, () -> counters(links, tc, index), 2, epoch));
            synchronized (running) {
                running[0] = pump;
            }
            log.accept("moving frames between " + d.name() + " and " + backend.describe()
                    + (rate != null ? ", emulating " + rate : "")
                    + (trace != null ? ", emulating trace " + emulateTrace + " x" + traceScale : "")
                    + (offload ? ", tun offloads: " + d.describeOffloads() : ""));
            log.accept(d.backpressure() == flow.on() ? flow.describe()
                    : "kernel flow control: off (asked for, but the kernel did not keep IFF_BACKPRESSURE)");
            pump.run();
            log.accept("stopped: " + pump.txFramesTotal() + " frames to the backend, " + pump.rxFramesTotal()
                    + " from it");
            return null;
        } finally {
            backend.close();
        }
    }

    private TunDevice open(NetlinkSocket nl, java.util.function.Consumer<String> log, boolean offload,
                           boolean backpressure) {
        LinkInfo existing = null;
        for (LinkInfo l : new LinkClient(nl).links()) {
            if (l.name().equals(dev)) {
                existing = l;
            }
        }
        if (existing == null && !create) {
            throw new NoSuchInterfaceException("no device '" + dev + "'" + (top.netns != null ? " in network "
                    + "namespace '" + top.netns + "'" : "") + "; use --create to make one");
        }
        if (existing != null && !existing.isTunTap()) {
            throw new NoSuchInterfaceException(dev + " is not a tun/tap device (" + existing.kind() + ")");
        }
        if (existing != null && existing.kind().equals("tap") != tap) {
            throw new PlanException(tap ? "--tap" : "--tun", dev + " is a " + existing.kind() + " device; use --"
                    + existing.kind());
        }
        return offload ? TunDevice.openWithOffloads(dev, backpressure, log) : TunDevice.open(dev, tap, backpressure);
    }

    /** tun's counters and its root qdisc's, for the report's tx_dropped, ring and qdisc. */
    private static DeviceCounters counters(LinkClient links, TcClient tc, int index) {
        LinkInfo l = links.get(index);
        QdiscInfo q;
        try {
            q = tc.root(index);
        } catch (RuntimeException e) {
            q = null; // noqueue: the kernel has no root qdisc to tell of
        }
        boolean counted = q != null && q.stats() != null;
        return new DeviceCounters(l.txPackets(), l.txDropped(), counted ? q.stats().packets() : -1,
                q != null ? q.handle().value() : -1, counted ? q.stats().qlen() : -1);
    }

    private static LinkInfo find(LinkClient links, String name) {
        for (LinkInfo l : links.links()) {
            if (l.name().equals(name)) {
                return l;
            }
        }
        throw new NoSuchInterfaceException("device " + name + " vanished");
    }

    private void printStats(Interval iv) {
        PrintWriter err = spec.commandLine().getErr();
        synchronized (err) {
            err.println(top.json ? iv.toJson() : iv.toText());
            err.flush();
        }
    }

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(PumpCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "pump", "Move frames between a tun/tap device and a backend, and measure what the backend delivers.",
                "Frames read from the device go to the backend; frames from the backend are written to the device. "
                + "The pump reads from the device only while its small queue has room, so a slow backend "
                + "leaves packets in the kernel, where tunshape's qdisc holds them.",
                "",
                "Backends: sink (discard), udp:HOST:PORT with --listen HOST:PORT (one frame per datagram; two pumps "
                + "make a virtual link; runs of frames go out as one segmented send and come in coalesced "
                + "where the kernel offers it), exec:COMMAND (a driver process; frames as a 2-byte big-endian length "
                + "and the frame, on its stdin and stdout), serial:DEVICE with --baud and --framing slip|kiss, "
                + "tcp:HOST:PORT with --framing kiss (a KISS TNC such as Direwolf).",
                "",
                "Every --report-interval the pump measures bytes and frames handed to the backend, the time the "
                + "backend was busy, the capacity estimate (bytes / busy time), its own backlog, the frames "
                + "waiting in tun's ring and the device's tx_dropped; --stats prints them (JSON with --json) and each report goes to the "
                + "daemon's socket (a missing daemon is not an error). SIGTERM or SIGINT ends it cleanly.",
                "",
                "Kernel flow control: where the kernel offers IFF_BACKPRESSURE (Linux 7.3), the pump opens the device "
                + "with it, so that a full ring stops the device's queue instead of dropping and the qdisc holds "
                + "what the pump cannot take yet; the pump says once which it uses, and --stats and the reports "
                + "carry it. A pump that stops reading (SIGSTOP, a stuck backend) then blocks the senders until it "
                + "reads again.");
        s.usageMessage().sortOptions(false);
        c.top = top;
        c.spec = s;
        options(c, s);
        return s;
    }

    /** pump's options, in the order help lists them. */
    private static void options(PumpCommand c, CommandSpec s) {
        s.addOption(Specs.option(c, "dev", "--dev").paramLabel("NAME").required(true)
                .description("The tun/tap device.").build());
        s.addOption(Specs.option(c, "tun", "--tun")
                .description("A tun device (IP packets; the default).").build());
        s.addOption(Specs.option(c, "tap", "--tap")
                .description("A tap device (Ethernet frames).").build());
        s.addOption(Specs.option(c, "create", "--create")
                .description("Create the device when it does not exist (it goes away with the "
                        + "pump).").build());
        s.addOption(Specs.option(c, "backendSpec", "--backend").paramLabel("SPEC").required(true)
                .description("sink, udp:HOST:PORT, exec:COMMAND, serial:DEVICE or tcp:HOST:PORT.").build());
        s.addOption(Specs.option(c, "listen", "--listen").paramLabel("HOST:PORT")
                .description("udp: the local address to receive on "
                        + "(default 0.0.0.0 and the peer's port).").build());
        s.addOption(Specs.option(c, "baud", "--baud").paramLabel("N").defaultValue("9600")
                .description("serial: line speed (default: "
                        + "${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "framing", "--framing").paramLabel("slip|kiss")
                .description("serial and tcp: how frames are delimited "
                        + "(serial default slip; tcp: kiss).").build());
        s.addOption(Specs.option(c, "emulateRate", "--emulate-rate").paramLabel("RATE")
                .description("Behave like a link of this capacity "
                        + "(tc units: 9600bit, 1mbit).").build());
        s.addOption(Specs.option(c, "emulateTrace", "--emulate-trace").paramLabel("FILE")
                .description("Behave like a link following this "
                        + "Mahimahi trace (one line per 1500-byte delivery opportunity, in ms).").build());
        s.addOption(Specs.option(c, "traceScale", "--trace-scale").paramLabel("X").defaultValue("1")
                .description("Each trace opportunity "
                        + "carries X * 1500 bytes (default: ${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "report", "--report").paramLabel("PATH").defaultValue("/run/tunshape/report.sock")
                .description("The daemon's report socket (default: ${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "reportInterval", "--report-interval").paramLabel("DURATION").defaultValue("1s")
                .description("How often to measure and report (default: ${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "stats", "--stats")
                .description("Print a line per interval on stderr (JSON with --json).").build());
        s.addOption(Specs.option(c, "noOffload", "--no-offload")
                .description("Do not use tun's checksum and TCP segmentation offloads (by "
                        + "default a tun device without link emulation takes TCP as 64 KB super-frames, which the pump cuts "
                        + "into packets, and gets runs of TCP segments, and of UDP datagrams of one flow, back as one "
                        + "super-frame).").build());
        s.addOption(Specs.option(c, "kernelFlowControl", "--kernel-flow-control").paramLabel("auto|on|off").defaultValue("auto")
                .description("Open the device with the kernel's flow control (IFF_BACKPRESSURE): auto, where "
                        + "TUNGETFEATURES offers it (Linux 7.3 and later); on, or exit 1 naming the kernel, with nothing "
                        + "changed; off, never (a full ring drops, as before 7.3) (default: ${DEFAULT-VALUE}).").build());
    }
}
