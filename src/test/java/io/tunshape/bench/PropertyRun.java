package io.tunshape.bench;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;
import java.util.Arrays;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * bench/fuzz.sh's small mode (SMALL=1): the jqwik properties of the named classes with TRIES inputs
 * each, in this one JVM through the JUnit Platform launcher, instead of one Maven run per class (a
 * Maven run costs 10-20 s before the first input). Exits 1 on any failure, and when no test ran.
 *
 * <p>Usage: {@code PropertyRun TRIES CLASS...} (classes by their full names).
 */
public final class PropertyRun {
    private PropertyRun() {
    }

    public static void main(String[] args) throws ClassNotFoundException {
        if (args.length < 2) {
            System.err.println("usage: PropertyRun TRIES CLASS...");
            System.exit(2);
        }
        LauncherDiscoveryRequestBuilder request = LauncherDiscoveryRequestBuilder.request()
                .configurationParameter("jqwik.tries.default", args[0])
                .configurationParameter("jqwik.reporting.onlyfailures", "true");
        for (String name : Arrays.copyOfRange(args, 1, args.length)) {
            request.selectors(selectClass(Class.forName(name)));
        }
        LauncherDiscoveryRequest built = request.build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        launcher.execute(built, summary);
        TestExecutionSummary s = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 30);
        out.printf("fuzz: properties: %d run, %d succeeded, %d failed, %d skipped, %d ms%n", s.getTestsStartedCount(),
                s.getTestsSucceededCount(), s.getTotalFailureCount(), s.getTestsSkippedCount(),
                s.getTimeFinished() - s.getTimeStarted());
        System.exit(s.getTotalFailureCount() == 0 && s.getTestsSucceededCount() > 0 ? 0 : 1);
    }
}
