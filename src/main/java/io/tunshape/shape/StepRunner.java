package io.tunshape.shape;

import io.tunshape.netlink.Ack;
import io.tunshape.netlink.NetlinkException;
import io.tunshape.sys.Errno;
import io.tunshape.tc.TcClient;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

/** Sends steps in order and, on a refusal, puts every device it touched back as it was. */
final class StepRunner {
    private final TcClient tc;
    private final Function<io.tunshape.link.LinkInfo, DeviceState> reread;
    private final BiFunction<DeviceState, DeviceState, List<Shaper.Step>> restore;

    StepRunner(TcClient tc, Function<io.tunshape.link.LinkInfo, DeviceState> reread,
               BiFunction<DeviceState, DeviceState, List<Shaper.Step>> restore) {
        this.tc = tc;
        this.reread = reread;
        this.restore = restore;
    }

    /**
     * Sends every target's requests in order. On a refusal, puts back every device already changed
     * (the failing one included) and throws; warnings the kernel attached to its acks are returned
     * per target.
     */
    List<List<String>> execute(List<Shaper.Target> targets) {
        List<List<String>> kernelWarnings = new ArrayList<>();
        boolean sentAny = false;
        for (int i = 0; i < targets.size(); i++) {
            Shaper.Target t = targets.get(i);
            List<String> w = new ArrayList<>();
            kernelWarnings.add(w);
            for (Shaper.Step s : t.steps()) {
                try {
                    Ack ack = send(s);
                    if (ack != null) {
                        sentAny = true;
                        w.addAll(ack.warnings());
                    }
                } catch (NetlinkException e) {
                    List<String> failures = rollback(targets.subList(0, i + 1));
                    throw new ShapeException(t.before().link().name(), s.what(), e, failures, sentAny);
                }
            }
        }
        return kernelWarnings;
    }

    /**
     * Sends one step and returns the kernel's ack, or null when the step tolerates a missing object
     * and the object was already gone (ENOENT, or EINVAL for a root of handle 0): nothing changed.
     */
    Ack send(Shaper.Step s) {
        try {
            return tc.send(s.message());
        } catch (NetlinkException e) {
            if (s.toleratesMissing() && (e.errno() == Errno.ENOENT || e.errno() == Errno.EINVAL)) {
                return null;
            }
            throw e;
        }
    }

    /**
     * Puts back every target that had steps, newest first, then re-reads each: one that still
     * differs from its state before is a failure, so "put back" and "nothing was changed" are said
     * only when a re-read shows them.
     */
    private List<String> rollback(List<Shaper.Target> done) {
        List<String> failures = new ArrayList<>();
        for (int j = done.size() - 1; j >= 0; j--) {
            Shaper.Target t = done.get(j);
            if (t.steps().isEmpty()) {
                continue;
            }
            try {
                for (Shaper.Step s : restore.apply(t.before(), reread.apply(t.before().link()))) {
                    try {
                        send(s);
                    } catch (NetlinkException e) {
                        failures.add(t.before().link().name() + ": " + s.what() + ": " + e.getMessage());
                    }
                }
            } catch (RuntimeException e) {
                failures.add(t.before().link().name() + ": " + e.getMessage());
            }
        }
        return failures.isEmpty() ? stillDiffering(done) : failures;
    }

    private List<String> stillDiffering(List<Shaper.Target> done) {
        List<String> failures = new ArrayList<>();
        for (Shaper.Target t : done) {
            if (t.steps().isEmpty()) {
                continue;
            }
            try {
                List<Shaper.Step> left = restore.apply(t.before(), reread.apply(t.before().link()));
                if (!left.isEmpty()) {
                    failures.add(t.before().link().name() + ": the re-read still differs from before: "
                            + String.join("; ", Shaper.whats(left)));
                }
            } catch (RuntimeException e) {
                failures.add(t.before().link().name() + ": re-read after putting back: " + e.getMessage());
            }
        }
        return failures;
    }
}
