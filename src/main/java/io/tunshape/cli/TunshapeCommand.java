package io.tunshape.cli;

import io.tunshape.netlink.Netns;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import java.util.concurrent.Callable;

// the subcommands: CommandTree (built whole only when the run needs the whole tree)
// the version provider: set by CommandTree once the tree is built (a subcommand that joins asks its parent
// for its version strings, which would read version.properties on every start)
@Command(name = "tunshape", scope = ScopeType.INHERIT, mixinStandardHelpOptions = true, sortOptions = false,
        header = "Shape tun/tap devices to the speed of the link behind them.",
        description = {
            "Since Linux 3.8 a tun/tap device drops packets in bulk when the program behind it is slower than the "
                    + "sender. tunshape puts a non-work-conserving qdisc (tbf or htb) on the device at the backend's "
                    + "rate, through rtnetlink, idempotently, in any network namespace."
        },
        exitCodeListHeading = "%nExit status:%n", exitCodeList = {
            "0:success",
            "1:the kernel or the system refused (the kernel's extended-ack text is shown when it gave one)",
            "2:invalid usage or invalid input; nothing was changed",
            "3:no such interface or network namespace",
            "4:permission denied (needs CAP_NET_ADMIN, and CAP_SYS_ADMIN for --netns)",
            "5:another change to the network namespace (an apply, a clear, the daemon) held its lock for the whole "
                    + "--wait; nothing was changed"
        })
public final class TunshapeCommand implements Callable<Integer> {
    @Option(names = "--netns", paramLabel = "NAME|PATH", scope = ScopeType.INHERIT,
            description = "Work in this network namespace: a name under /var/run/netns, or a path such as "
                    + "/proc/PID/ns/net.")
    String netns;

    @Option(names = "--json", scope = ScopeType.INHERIT,
            description = "Machine-readable output on stdout (nothing else goes to stdout).")
    boolean json;

    @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT,
            description = "Explain every plan, and show stack traces with errors.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

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
