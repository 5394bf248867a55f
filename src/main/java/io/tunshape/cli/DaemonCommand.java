package io.tunshape.cli;

import io.tunshape.daemon.Daemon;
import io.tunshape.daemon.DaemonConfig;
import io.tunshape.daemon.SystemdNotify;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ProfileException;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.tc.Psched;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

public final class DaemonCommand implements Callable<Integer> {
    TunshapeCommand top;

    CommandSpec spec;

    Path config;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        java.util.function.Consumer<String> log = line -> {
            synchronized (err) {
                err.println("tunshape daemon: " + line);
                err.flush();
            }
        };
        Planner planner = new Planner(Psched.system(), io.tunshape.profile.HostDefaults.wmemDefault());
        ProfileLoader loader = new ProfileLoader(ProfileLoader.defaultPath(), planner);
        DaemonConfig cfg = DaemonConfig.load(config);
        Daemon.validate(cfg, loader);
        // the warm-up's tap: the daemon package does not open tun devices itself
        Daemon daemon = new Daemon(cfg, planner, log, name -> io.tunshape.tun.TunDevice.open(name, true));
        SystemdNotify notify = new SystemdNotify();
        Object stopSignals = Signals.install(daemon::stop);
        Object hup = Signals.installHangup(() -> {
            try {
                DaemonConfig next = DaemonConfig.load(config);
                Daemon.validate(next, loader);
                daemon.reload(next);
                log.accept("reloaded " + config);
                notify.send("RELOADING=0\nSTATUS=reloaded " + config);
            } catch (ProfileException e) {
                log.accept("reload refused, keeping the running configuration: " + e.getMessage());
            }
        });
        Thread watchdog = watchdog(notify);
        try {
            daemon.run(() -> {
                log.accept("running with " + config + ": " + cfg.interfaces().size() + " interface rule(s), reports on "
                        + cfg.reportSocket() + ", status on " + cfg.controlSocket());
                notify.send("READY=1\nSTATUS=shaping " + cfg.interfaces().size() + " interface rule(s)");
            });
        } finally {
            notify.send("STOPPING=1");
            if (watchdog != null) {
                watchdog.interrupt();
            }
            Signals.uninstall(stopSignals);
            Signals.uninstall(hup);
        }
        log.accept("stopped");
        return ExitCodes.OK;
    }

    /** systemd's watchdog, pinged at half its interval; null when systemd asked for none. */
    private static Thread watchdog(SystemdNotify notify) {
        long wd = notify.watchdogMicros();
        if (wd <= 0) {
            return null;
        }
        Thread t = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                notify.send("WATCHDOG=1");
                try {
                    Thread.sleep(Math.max(1, wd / 2000));
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** This command's model (no annotations: Specs), bound to {@code c}, under {@code top}. */
    static CommandSpec spec(DaemonCommand c, TunshapeCommand top) {
        CommandSpec s = Specs.command(c, "daemon", "Keep tun/tap devices shaped, and adaptive ones matched to their backend.",
                "Applies each configured profile to the matching tun/tap devices of the network namespaces its rules "
                + "select, and follows link and traffic-control events so that devices created or re-created "
                + "later, or un-shaped by someone else, are shaped again at once. It knows every network "
                + "namespace on the host: mounted ones (ip netns, Docker) and those only processes hold (CORE and "
                + "Mininet nodes, containers); a rule selects them with netns: \"*\", a name glob, hostname:, "
                + "command: or container: (tunshape.yaml(5)), and one event loop serves them all. It hears their "
                + "link and traffic-control events on one socket in its own namespace, which gives each served "
                + "namespace a namespace id there if it has none (as ip netns set NAME auto would; ip netns "
                + "list-id shows them). Whether that socket hears other namespaces is checked once, when the "
                + "first is served, in a private namespace; where it does not, the daemon says so once (and "
                + "tunshape status shows it) and opens an event socket inside each served namespace instead. "
                + "A namespace "
                + "whose last process exits is released. Adaptive devices follow the reports on the report "
                + "socket (tunshape-report(7)): "
                + "the smoothed capacity less the profile's headroom, within [min_rate, max_rate], changed only "
                + "past a hysteresis and not more often than a minimum interval, back to the profile's rate "
                + "when reports stop; they get htb, whose changes leak no burst.",
                "",
                "Before it says it is ready, with an adaptive rule configured, the daemon runs its report path for "
                + "real: 2000 made-up reports through its report socket change the rate of a tap device in a "
                + "private network namespace of its own (about half a second; nothing else is touched, and the "
                + "namespace goes with it), so that the first real reports find that path compiled. That needs "
                + "CAP_SYS_ADMIN; without it the daemon logs why and starts cold. On machines whose CPUs are "
                + "busy, report_scheduling (tunshape.yaml(5)) can put the report thread under SCHED_DEADLINE, "
                + "so that a change waits for no other task and a flood of reports takes no more than its "
                + "budget; that needs CAP_SYS_NICE.",
                "",
                "A namespace that cannot be served is retried with backoff and shown by tunshape status with the "
                + "reason. SIGHUP reloads the configuration (an invalid one is reported and the old one kept); "
                + "SIGTERM puts back what the daemon changed (restore_on_exit) and exits 0; a failure it cannot "
                + "go on after (its event loop or report thread) ends it with status 1. Under systemd (Type=notify) it "
                + "sends READY=1, STATUS= and, when WatchdogSec= is set, WATCHDOG=1. Logs go to stderr.");
        c.top = top;
        c.spec = s;
        s.addOption(Specs.option(c, "config", "--config").paramLabel("FILE").defaultValue("/etc/tunshape/tunshape.yaml")
                .description("The configuration (default: ${DEFAULT-VALUE}).").build());
        return s;
    }
}
