package io.tunshape.cli;

import io.tunshape.netlink.NamespaceLock;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "clear", header = "Remove tunshape's root qdisc: back to the kernel default. Idempotent.",
        description = {"A root qdisc that tunshape did not install is left alone, with a warning.", "",
            "Takes the network namespace's lock as apply does (--wait)."})
public final class ClearCommand implements Callable<Integer> {
    @ParentCommand
    TunshapeCommand top;

    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "IFACE", description = "Interface names or quoted globs ('tap*').")
    List<String> ifaces;

    @Option(names = "--dry-run", description = "Show what would be removed; change nothing.")
    boolean dryRun;

    @Mixin
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
}
