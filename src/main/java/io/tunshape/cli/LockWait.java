package io.tunshape.cli;

import io.tunshape.profile.PlanException;
import picocli.CommandLine.Model.CommandSpec;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** --wait for the commands that change a namespace: how long to wait for its lock. */
final class LockWait {
    private static final Pattern TIME = Pattern.compile("(\\d{1,9})(?:\\.(\\d{1,3}))?(ms|s|min)?");

    String wait;

    /** --wait, on the command that mixes this in (after its own options, where its field is). */
    void addTo(CommandSpec s) {
        s.addOption(Specs.option(this, "wait", "--wait").paramLabel("TIME").defaultValue("10s")
                .description("How long to wait while another tunshape process (an apply, a clear, the daemon) changes "
                        + "the same network namespace: 10s, 500ms, 2min; a bare number is seconds; 0 fails at once "
                        + "(default: ${DEFAULT-VALUE}). Past it, exit status 5 and nothing is changed.").build());
    }

    Duration duration() {
        Matcher m = TIME.matcher(wait == null ? "" : wait.strip());
        if (!m.matches()) {
            throw new PlanException("--wait", "'" + wait + "' is not a time; accepted: a number with ms, s or min "
                    + "(a bare number is seconds), e.g. 10s, 500ms");
        }
        String unit = m.group(3) == null ? "s" : m.group(3);
        long scale = switch (unit) {
            case "ms" -> 1_000_000L;
            case "min" -> 60_000_000_000L;
            default -> 1_000_000_000L;
        };
        String frac = m.group(2) == null ? "" : m.group(2);
        long nanos = Long.parseLong(m.group(1)) * scale
                + (frac.isEmpty() ? 0 : Long.parseLong(frac) * scale / (long) Math.pow(10, frac.length()));
        return Duration.ofNanos(nanos);
    }
}
