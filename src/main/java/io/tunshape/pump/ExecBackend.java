package io.tunshape.pump;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A driver process: {@code /bin/sh -c COMMAND}. Frames go to its stdin and come from its stdout,
 * each as a 2-byte big-endian length followed by the frame; its stderr is passed through. If it
 * exits, the pump says so once and starts it again with backoff.
 */
final class ExecBackend extends StreamBackend {
    private final String command;
    private Process process;

    ExecBackend(String command) {
        super(StreamBackend::lengthPrefixed);
        this.command = command;
    }

    @Override
    protected Streams connect() throws IOException {
        process = new ProcessBuilder(List.of("/bin/sh", "-c", command))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        return new Streams(process.getInputStream(), process.getOutputStream());
    }

    @Override
    protected void disconnect() {
        Process p = process;
        process = null;
        if (p != null) {
            p.destroy();
            try {
                if (!p.waitFor(2, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String describe() {
        Process p = process;
        if (p != null && !p.isAlive()) {
            return "exec '" + command + "' (exited with status " + p.exitValue() + ")";
        }
        return "exec '" + command + "'";
    }
}
