package io.tunshape.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tunshape.profile.Device;
import io.tunshape.profile.Plan;
import io.tunshape.profile.Planner;
import io.tunshape.profile.Profile;
import io.tunshape.profile.ProfileException;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.Shaper;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.Psched;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** profiles and its subcommands; their models (options, help) are {@link #spec}'s, bound to their fields. */
public final class ProfilesCommand implements Callable<Integer> {
    TunshapeCommand top;
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return ExitCodes.USAGE;
    }

    static ProfileLoader loader() {
        return new ProfileLoader(ProfileLoader.defaultPath(), planner());
    }

    static Planner planner() {
        return new Planner(Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
    }

    static final class ListCommand implements Callable<Integer> {
        ProfilesCommand parent;
        CommandSpec spec;

        @Override
        public Integer call() {
            ProfileLoader loader = loader();
            PrintWriter out = spec.commandLine().getOut();
            Map<String, Path> all = loader.list();
            List<Object> rows = new ArrayList<>();
            for (Map.Entry<String, Path> e : all.entrySet()) {
                try {
                    rows.add(loader.loadFile(e.getValue()));
                } catch (ProfileException x) {
                    rows.add(x);
                }
            }
            if (parent.top.json) {
                Json.print(out, g -> {
                    g.writeStartObject();
                    g.writeArrayFieldStart("profiles");
                    for (Object o : rows) {
                        g.writeStartObject();
                        if (o instanceof Profile p) {
                            g.writeStringField("name", p.name());
                            g.writeStringField("file", p.file());
                            g.writeBooleanField("valid", true);
                            g.writeNumberField("rate_bps", p.link().rate().bitsPerSecond());
                            g.writeStringField("qdisc", p.shaping().qdisc());
                            g.writeStringField("mode", p.shaping().mode().word());
                            g.writeStringField("description", p.description());
                        } else {
                            ProfileException x = (ProfileException) o;
                            g.writeStringField("file", x.file());
                            g.writeBooleanField("valid", false);
                            g.writeStringField("error", x.getMessage());
                        }
                        g.writeEndObject();
                    }
                    g.writeEndArray();
                    g.writeEndObject();
                });
                return ExitCodes.OK;
            }
            if (rows.isEmpty()) {
                out.println("no profiles on the profile path: " + loader.path());
            }
            for (Object o : rows) {
                if (o instanceof Profile p) {
                    out.printf("%-28s %-10s %s %-12s %s%n", p.name(), rate(p), p.shaping().qdisc(),
                            p.shaping().mode().word(), p.description());
                } else {
                    out.println("invalid: " + ((ProfileException) o).getMessage());
                }
            }
            out.flush();
            return ExitCodes.OK;
        }
    }

    static final class ShowCommand implements Callable<Integer> {
        ProfilesCommand parent;
        CommandSpec spec;
        String name;
        boolean flowControl;

        @Override
        public Integer call() {
            Planner planner = planner();
            Profile p = new ProfileLoader(ProfileLoader.defaultPath(), planner).load(name);
            int fc = flowControl ? Device.IFF_BACKPRESSURE | 0x1000 : 0;
            Device tun = new Device("tun", p.link().mtu(), 0, 500, flowControl ? fc | 0x0001 : null);
            Device tap = new Device("tap", p.link().mtu(), 14, 1000, flowControl ? fc | 0x0002 : null);
            Plan onTun = planner.plan(p.request(), tun);
            Plan onTap = planner.plan(p.request(), tap);
            PrintWriter out = spec.commandLine().getOut();
            if (parent.top.json) {
                Json.print(out, g -> {
                    g.writeStartObject();
                    g.writeStringField("name", p.name());
                    g.writeStringField("file", p.file());
                    g.writeStringField("description", p.description());
                    g.writeStringField("source", p.source());
                    g.writeObjectFieldStart("link");
                    g.writeNumberField("rate_bps", p.link().rate().bitsPerSecond());
                    if (ShapingRequest.READER.equals(p.link().rateText())) {
                        g.writeStringField("paced_by", "reader");
                    }
                    g.writeNumberField("overhead", p.link().overhead());
                    g.writeNumberField("mpu", p.link().mpu());
                    g.writeNumberField("mtu", p.link().mtu());
                    g.writeEndObject();
                    g.writeStringField("qdisc", p.shaping().qdisc());
                    g.writeStringField("mode", p.shaping().mode().word());
                    if (p.adaptive() != null) {
                        g.writeObjectFieldStart("adaptive");
                        g.writeNumberField("min_rate_bps", p.adaptive().minRate().bitsPerSecond());
                        g.writeNumberField("max_rate_bps", p.adaptive().maxRate().bitsPerSecond());
                        g.writeNumberField("headroom", p.adaptive().headroom());
                        g.writeEndObject();
                    }
                    g.writeObjectFieldStart("plans");
                    plan(g, "tun", onTun);
                    plan(g, "tap", onTap);
                    g.writeEndObject();
                    g.writeEndObject();
                });
                return ExitCodes.OK;
            }
            out.println(p.name() + ": " + p.description());
            out.println("  file: " + p.file());
            out.println("  source: " + p.source().strip().replace("\n", "\n          "));
            out.println("  link: rate " + rate(p) + ", overhead " + p.link().overhead() + "b, mpu "
                    + p.link().mpu() + "b, mtu " + p.link().mtu());
            out.println("  shaping: " + p.shaping().qdisc() + ", " + p.shaping().mode().word() + " mode"
                    + (p.shaping().latency() != null ? ", latency " + p.shaping().latency() : "")
                    + (p.shaping().limit() != null ? ", limit " + p.shaping().limit().bytes() + "b" : ""));
            if (p.adaptive() != null) {
                out.printf("  adaptive: %s to %s, headroom %.0f%%%n", p.adaptive().minRate(), p.adaptive().maxRate(),
                        p.adaptive().headroom() * 100);
            }
            text(out, "tun device, mtu " + tun.mtu(), onTun);
            text(out, "tap device, mtu " + tap.mtu() + " + 14", onTap);
            out.flush();
            return ExitCodes.OK;
        }

        private static void text(PrintWriter out, String what, Plan plan) {
            out.println("  on a " + what + ":");
            out.println("    " + Text.qdisc(Shaper.view(plan.qdisc())));
            if (plan.qdisc() instanceof io.tunshape.tc.HtbSpec h) {
                for (HtbClassSpec c : h.classes()) {
                    out.println("      " + Text.htbClass(Shaper.view(plan.qdisc()), c));
                }
                for (io.tunshape.tc.U32Filter f : h.filters()) {
                    out.println("      " + Text.filter(Shaper.view(plan.qdisc()), f));
                }
            }
            for (String e : plan.explanation()) {
                out.println("    " + e);
            }
            for (String w : plan.warnings()) {
                out.println("    warning: " + w);
            }
        }

        private static void plan(JsonGenerator g, String name, Plan plan) throws IOException {
            g.writeObjectFieldStart(name);
            g.writeFieldName("qdisc");
            Json.qdisc(g, Shaper.view(plan.qdisc()), false);
            if (plan.txqueuelen() != null) {
                g.writeNumberField("txqueuelen", plan.txqueuelen());
            }
            Json.strings(g, "explanation", plan.explanation());
            Json.strings(g, "warnings", plan.warnings());
            g.writeEndObject();
        }
    }

    static final class ValidateCommand implements Callable<Integer> {
        ProfilesCommand parent;
        CommandSpec spec;
        List<String> files;

        @Override
        public Integer call() {
            ProfileLoader loader = loader();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            List<String[]> results = new ArrayList<>();
            boolean allOk = true;
            for (String f : files) {
                try {
                    Profile p = ProfileLoader.isFile(f) ? loader.loadFile(Path.of(f)) : loader.load(f);
                    results.add(new String[] {f, null, p.name()});
                } catch (ProfileException e) {
                    results.add(new String[] {f, e.getMessage(), null});
                    allOk = false;
                }
            }
            if (parent.top.json) {
                Json.print(out, g -> {
                    g.writeStartObject();
                    boolean ok = results.stream().allMatch(r -> r[1] == null);
                    g.writeBooleanField("valid", ok);
                    g.writeArrayFieldStart("files");
                    for (String[] r : results) {
                        g.writeStartObject();
                        g.writeStringField("file", r[0]);
                        g.writeBooleanField("valid", r[1] == null);
                        if (r[1] != null) {
                            g.writeStringField("error", r[1]);
                        }
                        g.writeEndObject();
                    }
                    g.writeEndArray();
                    g.writeEndObject();
                });
            } else {
                for (String[] r : results) {
                    if (r[1] == null) {
                        out.println(r[0] + ": ok (" + r[2] + ")");
                    } else {
                        err.println("tunshape: " + r[1]);
                    }
                }
                out.flush();
                err.flush();
            }
            return allOk ? ExitCodes.OK : ExitCodes.USAGE;
        }
    }

    /** The link's rate in words: "reader" for a profile paced by its reader, else the rate. */
    static String rate(Profile p) {
        return ShapingRequest.READER.equals(p.link().rateText()) ? ShapingRequest.READER : p.link().rate().toString();
    }

    /** This command's model with its subcommands (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(ProfilesCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "profiles", "The link profile library: list, show, validate.",
                "Profiles are YAML files (see tunshape-profile(5)) found by name along the profile path: "
                + "./profiles, $XDG_CONFIG_HOME/tunshape/profiles, /etc/tunshape/profiles, "
                + "/usr/share/tunshape/profiles and the installation's profiles/ (or $TUNSHAPE_PROFILE_PATH, "
                + "colon-separated, when set).");
        c.top = top;
        c.spec = s;
        ListCommand cl = new ListCommand();
        ShowCommand cs = new ShowCommand();
        ValidateCommand cv = new ValidateCommand();
        cl.parent = c;
        cs.parent = c;
        cv.parent = c;
        CommandSpec l = Specs.command(cl, "list", "List the profiles on the profile path.",
                "One line per profile: name, rate, qdisc, mode and description; profiles that do not "
                + "validate are listed with their error.");
        cl.spec = l;
        CommandSpec sh = Specs.command(cs, "show", "Show a profile, the kernel parameters it produces, and what they mean.",
                "The plan is shown for a tun and for a tap device of the profile's MTU: qdisc, classes "
                + "and filters, the longest wait, the burst, and what a local UDP sender will experience. "
                + "The devices are planned without kernel flow control (a profile with rate: reader then "
                + "carries apply's refusal as a warning); --kernel-flow-control plans them as attached with "
                + "IFF_BACKPRESSURE (Linux 7.3), as apply does for a device whose tun_flags carry it.");
        cs.spec = sh;
        sh.addPositional(Specs.positional(cs, "name", null).paramLabel("PROFILE")
                .description("A profile name or a YAML file.").build());
        sh.addOption(Specs.option(cs, "flowControl", "--kernel-flow-control")
                .description("Plan for devices with kernel flow control "
                        + "(tun_flags 0x1081 and 0x1082: IFF_BACKPRESSURE), as apply does where sysfs shows it.").build());
        CommandSpec v = Specs.command(cv, "validate", "Validate profile files; exit 0 only if every one is valid.",
                "Each file is read as YAML, checked against the format (tunshape-profile(5)) and planned "
                + "for a tun and a tap device; errors give file:line:column, what is wrong and what is accepted.");
        cv.spec = v;
        v.addPositional(Specs.positional(cv, "files", "1..*").paramLabel("FILE")
                .description("Profile files (or names on the path).").build());
        s.addSubcommand("list", new CommandLine(l));
        s.addSubcommand("show", new CommandLine(sh));
        s.addSubcommand("validate", new CommandLine(v));
        return s;
    }
}
