package io.tunshape.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** `tunshape pump` as a child process (the real command line, signals included), its stderr collected. */
public final class PumpProcess implements AutoCloseable {
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    public PumpProcess(String... args) throws IOException {
        this(java.util.Map.of(), args);
    }

    /** With these variables added to its environment. */
    public PumpProcess(java.util.Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), "io.tunshape.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        process = pb.start();
        reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    synchronized (lines) {
                        lines.add(l);
                    }
                }
            } catch (IOException ignored) {
                // the process is gone
            }
        });
        reader.setDaemon(true);
        reader.start();
    }

    public List<String> lines() {
        synchronized (lines) {
            return new ArrayList<>(lines);
        }
    }

    /** Waits until a line containing {@code text} appears; false after the timeout ({@link Bounds}: widened under emulation). */
    public boolean await(String text, long millis) throws InterruptedException {
        long end = System.currentTimeMillis() + Bounds.millis(millis);
        while (System.currentTimeMillis() < end) {
            if (lines().stream().anyMatch(l -> l.contains(text))) {
                return true;
            }
            if (!process.isAlive()) {
                return lines().stream().anyMatch(l -> l.contains(text));
            }
            Thread.sleep(20);
        }
        return false;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGTERM, then the exit status (or -1 if it would not stop within 10 s, {@link Bounds widened}, and had to be killed). */
    public int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(Bounds.millis(10_000), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
            return -1;
        }
        reader.join(2000);
        return process.exitValue();
    }

    /** The exit status, or Integer.MIN_VALUE when it has not ended within {@code millis} ({@link Bounds}: widened under emulation). */
    public int waitFor(long millis) throws InterruptedException {
        if (!process.waitFor(Bounds.millis(millis), TimeUnit.MILLISECONDS)) {
            return Integer.MIN_VALUE;
        }
        reader.join(2000);
        return process.exitValue();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
