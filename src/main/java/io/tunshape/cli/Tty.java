package io.tunshape.cli;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The controlling terminal for a full-screen view: its mode saved with `stty -g` and restored on
 * close, keys read one at a time without echo, the alternate screen (so the shell's screen comes
 * back as it was) and a hidden cursor. Signals stay on (isig): Ctrl-C is SIGINT, which the caller
 * turns into a stop so that close() runs. Done with stty rather than a terminal library: these
 * few calls are all a view needs (README, "Dependencies").
 */
final class Tty implements AutoCloseable {
    private static final File TTY = new File("/dev/tty");
    private final String saved;
    private final PrintStream out;
    private boolean closed;

    private Tty(String saved, PrintStream out) {
        this.saved = saved;
        this.out = out;
    }

    /** Whether file descriptor {@code fd} of this process is a terminal (from /proc: no native call needed). */
    static boolean isTerminal(int fd) {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** Whether the locale says the terminal takes UTF-8 (LC_ALL, else LC_CTYPE, else LANG, as C programs read it). */
    static boolean utf8() {
        String v = null;
        for (String name : new String[] {"LC_ALL", "LC_CTYPE", "LANG"}) {
            v = System.getenv(name);
            if (v != null && !v.isEmpty()) {
                break;
            }
        }
        return v != null && v.toLowerCase(java.util.Locale.ROOT).replace("-", "").contains("utf8");
    }

    /** Saves the terminal's mode, turns off echo and line buffering, and switches to the alternate screen. */
    static Tty open(PrintStream out) throws IOException {
        String saved = stty("-g").strip();
        Tty t = new Tty(saved, out);
        try {
            stty("-icanon", "-echo", "min", "1", "time", "0");
            out.print("\033[?1049h\033[?25l\033[H\033[2J");
            out.flush();
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** Rows and columns now (a resize changes them). */
    int[] size() {
        try {
            String[] rc = stty("size").strip().split("\\s+");
            int rows = Integer.parseInt(rc[0]);
            int cols = Integer.parseInt(rc[1]);
            if (rows > 0 && cols > 0) {
                return new int[] {rows, cols};
            }
        } catch (IOException | RuntimeException e) {
            // fall through to a classic size
        }
        return new int[] {24, 80};
    }

    /** Keys as they are typed, from /dev/tty. */
    static InputStream keys() throws IOException {
        return new FileInputStream(TTY);
    }

    /** Draws a frame: each line in place, cleared to its end, then everything below cleared. */
    void draw(List<String> lines) {
        StringBuilder b = new StringBuilder("\033[H");
        for (int i = 0; i < lines.size(); i++) {
            b.append(lines.get(i)).append("\033[K");
            if (i < lines.size() - 1) {
                b.append("\r\n");
            }
        }
        b.append("\033[J");
        out.print(b);
        out.flush();
    }

    /** Back to the shell's screen, the cursor shown, the saved mode. Safe to call twice. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        out.print("\033[?25h\033[?1049l");
        out.flush();
        try {
            stty(saved);
        } catch (IOException | RuntimeException e) {
            System.err.println("tunshape: could not restore the terminal's mode (" + e.getMessage()
                    + "); run 'stty sane'");
        }
    }

    private static String stty(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("stty"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectInput(TTY).redirectError(ProcessBuilder.Redirect.PIPE).start();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        p.getInputStream().transferTo(o);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("stty " + String.join(" ", args) + " did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for stty");
        }
        if (p.exitValue() != 0) {
            throw new IOException("stty " + String.join(" ", args) + ": " + err);
        }
        return o.toString(StandardCharsets.UTF_8);
    }
}
