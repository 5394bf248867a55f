package io.tunshape.cli;

import java.io.PrintWriter;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;

/**
 * The training run behind the class-data archive (CDS, or the AOT cache on Java 25 and later) that
 * {@code mvn package} and the Debian package's postinst make with src/build/archive.sh: one JVM runs
 * the one-shot commands people start most, so that the archive holds every class they load (issue 24).
 * Output is thrown away; errors (no device, no daemon) are part of the training.
 *
 * <p>Usage: {@code java -cp tunshape.jar io.tunshape.cli.Training [IFACE]}. With IFACE, a tun device
 * in the current network namespace that may be changed (archive.sh makes one in a namespace of its
 * own, with unshare), apply, show and clear run on it for real; without, apply runs with --dry-run on
 * a device that does not exist.
 */
public final class Training {
    private Training() {
    }

    public static void main(String[] args) {
        // the launcher's main class, which the commands below do not load
        Main.class.getName();
        for (String[] line : lines(args.length > 0 ? args[0] : null)) {
            PrintWriter none = new PrintWriter(Writer.nullWriter());
            Cli.run(none, none, line);
        }
    }

    static List<String[]> lines(String iface) {
        List<String[]> l = new ArrayList<>();
        l.add(new String[] {"--version"});
        l.add(new String[] {"--help"});
        for (String c : List.of("apply", "show", "clear", "status", "profiles")) {
            l.add(new String[] {c, "--help"});
        }
        l.add(new String[] {"profiles", "list"});
        l.add(new String[] {"profiles", "list", "--json"});
        l.add(new String[] {"profiles", "show", "ax25-9600-g3ruh"});
        l.add(new String[] {"status", "--socket", "/nonexistent/tunshape-training.sock"});
        l.add(new String[] {"show"});
        l.add(new String[] {"show", "--json"});
        l.add(new String[] {"aply"});
        if (iface == null) {
            l.add(new String[] {"apply", "--dry-run", "--rate", "1mbit", "tunshape-training0"});
            l.add(new String[] {"clear", "--dry-run", "tunshape-training0"});
            return l;
        }
        for (String rate : List.of("1mbit", "2mbit")) {
            l.add(new String[] {"apply", iface, "--rate", rate});
        }
        l.add(new String[] {"apply", iface, "--rate", "2mbit", "--json"});
        l.add(new String[] {"apply", iface, "--qdisc", "htb", "--rate", "1mbit", "--latency", "200ms"});
        l.add(new String[] {"apply", iface, "--profile", "ax25-9600-g3ruh"});
        l.add(new String[] {"show", iface});
        l.add(new String[] {"clear", iface});
        l.add(new String[] {"clear", iface});
        return l;
    }
}
