package io.tunshape.testing;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A throwaway network namespace for one test, made with `ip netns add` and deleted on close, even
 * when the test fails. Without root the test is skipped, except under CI=true, where it fails:
 * CI must never pass without having run the kernel tests.
 */
public final class KernelNs implements AutoCloseable {
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private final String name;

    private KernelNs(String name) {
        this.name = name;
    }

    public static void requireRoot() {
        boolean root = "root".equals(System.getProperty("user.name")) && canRunIp();
        if ("true".equals(System.getenv("CI"))) {
            Assertions.assertTrue(root, "kernel tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2; "
                    + "under CI=true they must run, not skip");
        } else {
            Assumptions.assumeTrue(root, "skipped: kernel tests need root and iproute2 (ip, tc)");
        }
    }

    private static boolean canRunIp() {
        try {
            Process p = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    public static KernelNs create() {
        requireRoot();
        String n = "tstest" + ProcessHandle.current().pid() + "x" + COUNTER.incrementAndGet();
        run("ip", "netns", "add", n);
        KernelNs ns = new KernelNs(n);
        ns.ip("link", "set", "lo", "up");
        return ns;
    }

    public String name() {
        return name;
    }

    public KernelNs tun(String dev) {
        ip("tuntap", "add", "dev", dev, "mode", "tun");
        return this;
    }

    public KernelNs tap(String dev) {
        ip("tuntap", "add", "dev", dev, "mode", "tap");
        return this;
    }

    /** `ip -n NS ...` */
    public String ip(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "-n", name));
        cmd.addAll(Arrays.asList(args));
        return run(cmd.toArray(new String[0]));
    }

    /** `ip netns exec NS tc ...`: the oracle that reads back what the kernel holds. */
    public String tc(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name, "tc"));
        cmd.addAll(Arrays.asList(args));
        return run(cmd.toArray(new String[0]));
    }

    /** Like {@link #tc} but returns the exit status and output instead of failing. */
    public Exec tcMayFail(String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name, "tc"));
        cmd.addAll(Arrays.asList(args));
        return exec(cmd.toArray(new String[0]));
    }

    public String exec(List<String> inNs) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name));
        cmd.addAll(inNs);
        return run(cmd.toArray(new String[0]));
    }

    public record Exec(int status, String output) {
    }

    public static Exec exec(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(Bounds.millis(60_000), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + String.join(" ", cmd));
            }
            return new Exec(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AssertionError("cannot run " + String.join(" ", cmd) + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /**
     * tunshape's command line as a process of its own, after {@code prefix} (nothing, or e.g. ip netns
     * exec NS), with the capabilities {@code caps} dropped from its bounding and inheritable sets
     * (setpriv's syntax: "-net_admin", "-bpf,-sys_admin").
     */
    public static Exec tunshapeWithout(List<String> prefix, String caps, String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("setpriv", "--bounding-set", caps, "--inh-caps", caps,
                System.getProperty("java.home") + "/bin/java", "-cp", System.getProperty("java.class.path"),
                "io.tunshape.cli.Main"));
        cmd.addAll(List.of(args));
        return exec(cmd.toArray(new String[0]));
    }

    public static String run(String... cmd) {
        Exec e = exec(cmd);
        if (e.status() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed (" + e.status() + "): " + e.output());
        }
        return e.output();
    }

    @Override
    public void close() {
        exec("ip", "netns", "del", name);
    }
}
