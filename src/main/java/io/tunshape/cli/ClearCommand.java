package io.tunshape.cli;

import io.tunshape.netlink.NamespaceLock;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;
import picocli.CommandLine.Model.CommandSpec;

import java.util.List;
import java.util.concurrent.Callable;

/** clear; its model (options, help) is {@link #spec}, bound to these fields. */
public final class ClearCommand implements Callable<Integer> {
    TunshapeCommand top;
    CommandSpec spec;
    List<String> ifaces;
    boolean dryRun;
    LockWait lockWait;

    @Override
    public Integer call() throws Exception {
        TcCodec codec = new TcCodec(Psched.system());
        java.time.Duration wait = lockWait.duration();
        List<Result> results = top.inNetns(() -> {
            try (NamespaceLock lock = dryRun ? null : NamespaceLock.exclusive(wait, "tunshape clear");
                 Session s = new Session(top.netns, codec)) {
                return s.clear(ifaces, dryRun);
            }
        });
        if (top.json) {
            Json.results(spec.commandLine().getOut(), results);
        } else {
            for (Result r : results) {
                String verb = r.changed() ? (dryRun ? "would clear" : "cleared") : "unchanged";
                spec.commandLine().getOut().println(r.iface() + ": " + verb + ": " + Text.qdisc(r.before())
                        + (r.changed() ? " -> kernel default" : ""));
            }
            spec.commandLine().getOut().flush();
        }
        Text.warnings(spec.commandLine().getErr(), results);
        return ExitCodes.OK;
    }

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(ClearCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "clear", "Remove tunshape's root qdisc: back to the kernel default. Idempotent.",
                "A root qdisc that tunshape did not install is left alone, with a warning.", "",
                "Takes the network namespace's lock as apply does (--wait).");
        c.top = top;
        c.spec = s;
        s.addPositional(Specs.positional(c, "ifaces", "1..*").paramLabel("IFACE")
                .description("Interface names or quoted globs ('tap*').").build());
        s.addOption(Specs.option(c, "dryRun", "--dry-run")
                .description("Show what would be removed; change nothing.").build());
        c.lockWait = new LockWait();
        c.lockWait.addTo(s);
        return s;
    }
}
