package io.tunshape.cli;

import io.tunshape.netlink.Netns;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ScopeType;

import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;

/** tunshape itself: the options every command inherits; its model is {@link #spec} (no annotations: Specs). */
public final class TunshapeCommand implements Callable<Integer> {
    String netns;
    boolean json;
    boolean verbose;
    CommandSpec spec;

    /**
     * The top command's model, scope INHERIT: every subcommand inherits its options and its exit status
     * list. The subcommands, -h and -V: CommandTree. The version provider: set by CommandTree once the
     * tree is built (a subcommand that joins asks its parent for its version strings, which would
     * read version.properties on every start).
     */
    static CommandSpec spec(TunshapeCommand c) {
        CommandSpec s = Specs.command(c, "tunshape", "Shape tun/tap devices to the speed of the link behind them.",
                "Since Linux 3.8 a tun/tap device drops packets in bulk when the program behind it is slower than the "
                        + "sender. tunshape puts a non-work-conserving qdisc (tbf or htb) on the device at the backend's "
                        + "rate, through rtnetlink, idempotently, in any network namespace.");
        s.scopeType(ScopeType.INHERIT);
        Map<String, String> exits = new LinkedHashMap<>();
        exits.put("0", "success");
        exits.put("1", "the kernel or the system refused (the kernel's extended-ack text is shown when it gave one)");
        exits.put("2", "invalid usage or invalid input; nothing was changed");
        exits.put("3", "no such interface or network namespace");
        exits.put("4", "permission denied (needs CAP_NET_ADMIN, and CAP_SYS_ADMIN for --netns)");
        exits.put("5", "another change to the network namespace (an apply, a clear, the daemon) held its lock for the "
                + "whole --wait; nothing was changed");
        s.usageMessage().sortOptions(false).exitCodeListHeading("%nExit status:%n").exitCodeList(exits);
        s.addOption(Specs.option(c, "netns", "--netns").paramLabel("NAME|PATH").scopeType(ScopeType.INHERIT)
                .description("Work in this network namespace: a name under /var/run/netns, or a path such as "
                        + "/proc/PID/ns/net.").build());
        s.addOption(Specs.option(c, "json", "--json").scopeType(ScopeType.INHERIT)
                .description("Machine-readable output on stdout (nothing else goes to stdout).").build());
        s.addOption(Specs.option(c, "verbose", "-v", "--verbose").scopeType(ScopeType.INHERIT)
                .description("Explain every plan, and show stack traces with errors.").build());
        c.spec = s;
        return s;
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return ExitCodes.USAGE;
    }

    /** Runs work in the chosen namespace (or here). */
    <T> T inNetns(Callable<T> work) throws Exception {
        return Netns.run(netns, work);
    }

    static boolean verbose(CommandLine cl) {
        CommandLine c = cl;
        while (c.getParent() != null) {
            c = c.getParent();
        }
        return c.getCommand() instanceof TunshapeCommand t && t.verbose;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = TunshapeCommand.class.getResourceAsStream("/io/tunshape/version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"tunshape " + p.getProperty("version", "unknown")};
        }
    }
}
