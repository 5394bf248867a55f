package io.tunshape.cli;

import io.tunshape.netlink.NamespaceLock;
import io.tunshape.profile.Mode;
import io.tunshape.profile.PlanException;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.Duration;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Psched;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.Units;
import picocli.CommandLine.Model.CommandSpec;

import java.util.List;
import java.util.concurrent.Callable;

/** apply; its model (options, help) is {@link #spec}, bound to these fields. */
public final class ApplyCommand implements Callable<Integer> {
    TunshapeCommand top;
    CommandSpec spec;
    List<String> ifaces;
    String profile;
    String rate;
    String ceil;
    String burst;
    String latency;
    String limit;
    Mode mode;
    int senders;
    String qdisc;
    int overhead;
    int mpu;
    Long txqueuelen;
    Integer flows;
    String flowsClassifier;
    boolean dryRun;
    LockWait lockWait;

    ShapingRequest request(Planner planner) {
        FlowQueues.Classifier classifier = switch (flowsClassifier) {
            case "auto" -> null;
            case "bpf" -> FlowQueues.Classifier.BPF;
            case "u32" -> FlowQueues.Classifier.U32;
            default -> throw new PlanException("--flows-classifier", "'" + flowsClassifier + "' is not one; accepted: "
                    + "auto, bpf, u32");
        };
        return unclassified(planner).withClassifier(classifier,
                classifier == FlowQueues.Classifier.U32 ? "asked for with --flows-classifier u32" : null);
    }

    private ShapingRequest unclassified(Planner planner) {
        if (profile != null) {
            List<String> given = new java.util.ArrayList<>();
            for (String o : new String[] {"--rate", "--ceil", "--burst", "--latency", "--limit", "--mode", "--senders",
                "--qdisc", "--overhead", "--mpu", "--txqueuelen", "--flows"}) {
                if (spec.commandLine().getParseResult().hasMatchedOption(o)) {
                    given.add(o);
                }
            }
            if (!given.isEmpty()) {
                throw new PlanException("--profile", "give either a profile or " + String.join(", ", given)
                        + ", not both; a profile sets them all");
            }
            return new ProfileLoader(ProfileLoader.defaultPath(), planner).load(profile).request();
        }
        if (rate == null) {
            throw new PlanException("--rate", "missing; give --rate RATE (the backend's payload rate, e.g. 9600bit) "
                    + "or --profile PROFILE");
        }
        if (senders < 1) {
            throw new PlanException("--senders", senders + " is out of range; accepted: 1 or more");
        }
        boolean reader = ShapingRequest.READER.equals(rate);
        Rate r = reader ? ShapingRequest.READER_RATE : OptionValues.parse("--rate", rate, Units::parseRate);
        Rate c = OptionValues.parse("--ceil", ceil, Units::parseRate);
        if (c != null && c.bytesPerSecond() == 0) {
            throw new PlanException("--ceil", "'" + ceil + "' is 0 bytes/s; the smallest rate is 8bit");
        }
        Size b = OptionValues.parse("--burst", burst, Units::parseSize);
        Size l = OptionValues.parse("--limit", limit, Units::parseSize);
        Duration t = OptionValues.parse("--latency", latency, Units::parseTime);
        int n = flows == null ? 0 : flows;
        // --flows implies htb unless --qdisc was given (the planner refuses tbf with flows)
        String q = n > 0 && !spec.commandLine().getParseResult().hasMatchedOption("--qdisc") ? null : qdisc;
        return new ShapingRequest(q, r, rate, c, b, l, t, mode, senders, overhead, mpu, txqueuelen).withFlows(n, null);
    }

    @Override
    public Integer call() throws Exception {
        Psched psched = Psched.system();
        Planner planner = new Planner(psched, io.tunshape.profile.HostDefaults.wmemDefault());
        ShapingRequest req = request(planner);
        TcCodec codec = new TcCodec(psched);
        List<Result> results;
        java.time.Duration wait = lockWait.duration();
        long t0 = System.nanoTime();
        try {
            results = top.inNetns(() -> {
                // the namespace's lock: no other tunshape change between our read and our re-read
                try (NamespaceLock lock = dryRun ? null : NamespaceLock.exclusive(wait, "tunshape apply");
                     Session s = new Session(top.netns, codec)) {
                    return s.apply(ifaces, req, planner, dryRun);
                }
            });
        } catch (PlanException e) {
            // the planner names fields as a profile does; on the command line they are options
            String f = e.field();
            throw new PlanException(f.startsWith("--") ? f : "--" + f, e.getMessage().substring(f.length() + 2));
        }
        long micros = (System.nanoTime() - t0) / 1000;
        if (top.verbose) {
            spec.commandLine().getErr().printf("tunshape: apply: %d interface(s), %d changed, %.1f ms in-process "
                    + "(dumps, planning, kernel requests)%n", results.size(),
                    results.stream().filter(Result::changed).count(), micros / 1000.0);
        }
        if (top.json) {
            Json.results(spec.commandLine().getOut(), results);
        } else {
            Text.results(spec.commandLine().getOut(), results, dryRun, top.verbose);
            spec.commandLine().getOut().flush();
        }
        Text.warnings(spec.commandLine().getErr(), results);
        return ExitCodes.OK;
    }

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(ApplyCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "apply", "Shape interfaces: install or change tunshape's root qdisc.",
                "Idempotent: when the kernel already holds what is asked, nothing is sent and the result says "
                + "'unchanged' (counters keep counting). A changed rate is changed in place. With several "
                + "interfaces everything is validated first, and if the kernel refuses one, those already "
                + "changed are put back.",
                "",
                "One change at a time: apply takes the network namespace's lock (shared with clear and the daemon) "
                + "before it reads the devices, waiting up to --wait; after the change it reads the devices "
                + "back and compares them with the plan: a difference is repaired once, and one that remains "
                + "is an error (exit 1). An incomplete tunshape tree (an htb root without its class, a class "
                + "without its leaf, a filter pointing nowhere) is completed.",
                "",
                "Queue size: --latency bounds the wait (limit = rate x latency + burst; excess is dropped and "
                + "counted); --limit sets it in bytes; with neither, backpressure mode sizes it to hold the "
                + "default socket send buffer (net.core.wmem_default) of --senders local senders plus the burst, "
                + "so local UDP senders block instead of losing packets.",
                "",
                "Kernel flow control: apply reads each tun/tap device's tun_flags (sysfs, in the namespace of "
                + "--netns). On a device attached with IFF_BACKPRESSURE (Linux 7.3) tun loses nothing even with "
                + "a rate above the link: the qdisc holds what the link cannot take, then local senders block; "
                + "the plan says so. --rate reader shapes with no rate there: a queue sized for the senders' "
                + "buffers (with or without --flows), paced by the reader. On a device without the flag it is "
                + "refused (exit 2, nothing changed); --dry-run shows the plan with the refusal as a warning.");
        s.usageMessage().sortOptions(false);
        c.top = top;
        c.spec = s;
        options(c, s);
        return s;
    }

    /** apply's options, in the order help lists them. */
    private static void options(ApplyCommand c, CommandSpec s) {
        s.addPositional(Specs.positional(c, "ifaces", "1..*").paramLabel("IFACE")
                .description("Interface names, or quoted globs over the namespace's tun/tap devices ('tap*').").build());
        s.addOption(Specs.option(c, "profile", "-p", "--profile").paramLabel("PROFILE")
                .description("A link profile: a name on the profile path (tunshape profiles list) or a YAML file. "
                        + "Replaces --rate and the options after it.").build());
        s.addOption(Specs.option(c, "rate", "--rate").paramLabel("RATE")
                .description("The backend's payload rate, in tc's units: 9600bit, 1.2kbit, 10mbit, 1gbit; "
                        + "bps/kbps/mbps mean BYTES per second. Or 'reader': no rate, the reader's pace is the clock "
                        + "(a queue sized for the senders' buffers; tbf/htb at 32gbit as a formality), only on devices "
                        + "with kernel flow control (tun_flags with IFF_BACKPRESSURE, Linux 7.3); refused elsewhere "
                        + "(exit 2).").build());
        s.addOption(Specs.option(c, "ceil", "--ceil").paramLabel("RATE")
                .description("htb only: the class may borrow up to this rate "
                        + "(default: the rate).").build());
        s.addOption(Specs.option(c, "burst", "--burst").paramLabel("SIZE")
                .description("Bucket size in bytes (k, m = binary). Default: "
                        + "1 ms of traffic, and never less than one full frame (MTU + link header).").build());
        s.addOption(Specs.option(c, "latency", "--latency").paramLabel("TIME")
                .description("Latency mode: the longest wait in the queue "
                        + "(500ms, 2s; a bare number is microseconds).").build());
        s.addOption(Specs.option(c, "limit", "--limit").paramLabel("SIZE")
                .description("Queue limit in bytes.").build());
        s.addOption(Specs.option(c, "mode", "--mode").paramLabel("MODE")
                .description("backpressure or latency (default: latency when "
                        + "--latency or --limit is given, otherwise backpressure).").build());
        s.addOption(Specs.option(c, "senders", "--senders").paramLabel("N").defaultValue("1")
                .description("Backpressure mode: local "
                        + "sockets whose send buffers the queue must hold (default: ${DEFAULT-VALUE}).").build());
        s.addOption(Specs.option(c, "qdisc", "--qdisc").paramLabel("tbf|htb").defaultValue("tbf")
                .description("Root qdisc kind "
                        + "(default: ${DEFAULT-VALUE}). A tbf change refills its bucket; an htb class change does not.").build());
        s.addOption(Specs.option(c, "overhead", "--overhead").paramLabel("N").defaultValue("0")
                .description("Bytes the backend adds to "
                        + "every frame (framing, preamble), counted against the rate.").build());
        s.addOption(Specs.option(c, "mpu", "--mpu").paramLabel("N").defaultValue("0")
                .description("Minimum packet unit in bytes: "
                        + "smaller frames are counted as this size.").build());
        s.addOption(Specs.option(c, "txqueuelen", "--txqueuelen").paramLabel("N")
                .description("Also set the device's txqueuelen (tun's own "
                        + "ring, in packets).").build());
        s.addOption(Specs.option(c, "flows", "--flows").paramLabel("N")
                .description("Flow isolation: N queues (2 to 1024) under the "
                        + "rate, one per flow by the kernel's flow hash (an eBPF classifier, checked by the kernel's verifier), "
                        + "served in turn by bytes, so a flow that sends little waits about one frame of each busy flow instead "
                        + "of behind all of them. Implies --qdisc htb. In backpressure mode each queue holds --senders send "
                        + "buffers; with --latency each flow's wait is bounded.").build());
        s.addOption(Specs.option(c, "flowsClassifier", "--flows-classifier").paramLabel("auto|bpf|u32").defaultValue("auto")
                .description("What "
                        + "spreads flows over the queues (default: ${DEFAULT-VALUE}): bpf, the kernel's flow hash; u32, hash "
                        + "tables on the transport source port, the fallback where the kernel refuses eBPF (lockdown, an LSM, "
                        + "no CAP_BPF, no bpf(2)), weaker: UDP and TCP only, by source port alone; auto, bpf unless the kernel "
                        + "refuses eBPF, then u32, said in a warning and the plan.").build());
        s.addOption(Specs.option(c, "dryRun", "--dry-run")
                .description("Show the plan and its explanation; change nothing.").build());
        c.lockWait = new LockWait();
        c.lockWait.addTo(s);
    }
}
