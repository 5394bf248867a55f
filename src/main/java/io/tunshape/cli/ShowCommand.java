package io.tunshape.cli;

import io.tunshape.link.TunFlags;
import io.tunshape.shape.Session;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "show", header = "Show tun/tap devices, their root qdisc and live counters.",
        description = "With no IFACE, every tun/tap device of the namespace. Counters: what the qdisc sent, its "
                + "backlog, drops and overlimits, and tun's own tx_dropped (packets lost at the device's ring). "
                + "For tun/tap devices, whoever their driver: whether kernel flow control (IFF_BACKPRESSURE, "
                + "Linux 7.3) is on, from the device's tun_flags in sysfs.")
public final class ShowCommand implements Callable<Integer> {
    @ParentCommand
    TunshapeCommand top;

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "IFACE", description = "Interface names or quoted globs.")
    List<String> ifaces = List.of();

    @Override
    public Integer call() throws Exception {
        TcCodec codec = new TcCodec(Psched.system());
        List<Session.Shown> shown = top.inNetns(() -> {
            try (Session s = new Session(top.netns, codec)) {
                return s.show(ifaces);
            }
        });
        Map<String, Integer> flags = TunFlags.ofLinks(top.netns, shown.stream().map(Session.Shown::link).toList());
        if (top.json) {
            Json.shown(spec.commandLine().getOut(), shown, flags);
        } else {
            Text.shown(spec.commandLine().getOut(), shown, flags);
            spec.commandLine().getOut().flush();
        }
        return ExitCodes.OK;
    }
}
