package io.tunshape.cli;

import io.tunshape.link.TunFlags;
import io.tunshape.shape.Session;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;
import picocli.CommandLine.Model.CommandSpec;

import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** show; its model (options, help) is {@link #spec}, bound to these fields. */
public final class ShowCommand implements Callable<Integer> {
    TunshapeCommand top;
    CommandSpec spec;
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

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(ShowCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "show", "Show tun/tap devices, their root qdisc and live counters.",
                "With no IFACE, every tun/tap device of the namespace. Counters: what the qdisc sent, its "
                + "backlog, drops and overlimits, and tun's own tx_dropped (packets lost at the device's ring). "
                + "For tun/tap devices, whoever their driver: whether kernel flow control (IFF_BACKPRESSURE, "
                + "Linux 7.3) is on, from the device's tun_flags in sysfs.");
        c.top = top;
        c.spec = s;
        s.addPositional(Specs.positional(c, "ifaces", "0..*").paramLabel("IFACE")
                .description("Interface names or quoted globs.").build());
        return s;
    }
}
