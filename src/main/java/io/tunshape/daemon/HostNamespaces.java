package io.tunshape.daemon;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Every network namespace on the host, by inode (all network namespaces live on the one nsfs, so
 * the inode alone tells them apart): those bind-mounted somewhere (`ip netns add` under
 * /run/netns, Docker under /run/docker/netns, any other nsfs mount: read from /proc/self/mountinfo)
 * and those held by processes (/proc/PID/ns/net), each once however many processes share it.
 * Kept current incrementally from process events and mount-table changes; a full scan only at
 * start, after lost events and, rarely, as a safety net. Used by the event loop's thread only.
 */
final class HostNamespaces {
    private final Map<Integer, Long> inoOfPid = new HashMap<>();
    private final Map<Long, TreeSet<Integer>> holders = new HashMap<>();
    private Map<Long, List<String>> mounts = new HashMap<>();
    /** Namespaces whose holders or mounts changed since the loop last looked ({@link #takeTouched()}). */
    private Set<Long> touched = new HashSet<>();
    private final long own;

    HostNamespaces() {
        this.own = inoOf("self");
    }

    /** The daemon's own namespace. */
    long own() {
        return own;
    }

    /** The network namespace inode of process {@code pid} ("self" works too), or -1 when it is gone. */
    static long inoOf(Object pid) {
        return io.tunshape.sys.ProcLink.namespaceInode("/proc/" + pid + "/ns/net");
    }

    /** Whether the namespace still exists for anyone but us: a process or a mount holds it. */
    boolean exists(long ino) {
        return holders.containsKey(ino) || mounts.containsKey(ino);
    }

    /** How many namespaces the host has now. */
    int count() {
        int n = holders.size();
        for (Long ino : mounts.keySet()) {
            if (!holders.containsKey(ino)) {
                n++;
            }
        }
        return n;
    }

    /** Every namespace known now. */
    Set<Long> all() {
        Set<Long> s = new HashSet<>(holders.keySet());
        s.addAll(mounts.keySet());
        return s;
    }

    /** The lowest pid in the namespace (the process that made it, as a rule), or 0 when only mounts hold it. */
    int leader(long ino) {
        TreeSet<Integer> h = holders.get(ino);
        return h == null || h.isEmpty() ? 0 : h.first();
    }

    /** How many processes are in the namespace. */
    int processes(long ino) {
        TreeSet<Integer> h = holders.get(ino);
        return h == null ? 0 : h.size();
    }

    /** Where the namespace is mounted (empty when nowhere). */
    List<String> mountPoints(long ino) {
        return mounts.getOrDefault(ino, List.of());
    }

    /** The namespaces touched since the last call. */
    Set<Long> takeTouched() {
        Set<Long> t = touched;
        touched = new HashSet<>();
        return t;
    }

    /** Reads every process's namespace afresh (at start, and when events were lost). */
    void fullScan() {
        Map<Integer, Long> seen = new HashMap<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc"))) {
            for (Path p : d) {
                String n = p.getFileName().toString();
                if (n.isEmpty() || n.charAt(0) < '0' || n.charAt(0) > '9') {
                    continue;
                }
                long ino = inoOf(n);
                if (ino > 0) {
                    seen.put(Integer.parseInt(n), ino);
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("reading /proc", e);
        }
        for (Integer pid : new ArrayList<>(inoOfPid.keySet())) {
            if (!seen.containsKey(pid)) {
                forget(pid);
            }
        }
        for (Map.Entry<Integer, Long> e : seen.entrySet()) {
            place(e.getKey(), e.getValue());
        }
    }

    /** A process event (ProcConnector): a fork or exec may have entered a namespace, an exit left one. */
    void processEvent(boolean exited, int pid) {
        if (exited) {
            forget(pid);
            return;
        }
        long ino = inoOf(pid);
        if (ino > 0) {
            place(pid, ino);
        } else {
            forget(pid); // gone already
        }
    }

    private void place(int pid, long ino) {
        Long was = inoOfPid.put(pid, ino);
        if (was != null && was == ino) {
            // the same process in the same namespace: only an exec, which may have set a hostname
            touched.add(ino);
            return;
        }
        if (was != null) {
            remove(pid, was);
        }
        holders.computeIfAbsent(ino, k -> new TreeSet<>()).add(pid);
        touched.add(ino);
    }

    private void forget(int pid) {
        Long was = inoOfPid.remove(pid);
        if (was != null) {
            remove(pid, was);
        }
    }

    private void remove(int pid, long ino) {
        TreeSet<Integer> h = holders.get(ino);
        if (h != null) {
            h.remove(pid);
            if (h.isEmpty()) {
                holders.remove(ino);
            }
        }
        touched.add(ino);
    }

    /** Reads the nsfs mounts from /proc/self/mountinfo (when it says the mount table changed). */
    void rereadMounts() {
        Map<Long, List<String>> now = new HashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                // id parent major:minor root mountpoint options... - fstype source superoptions
                int dash = line.indexOf(" - nsfs ");
                if (dash < 0) {
                    continue;
                }
                String[] f = line.substring(0, dash).split(" ");
                if (f.length < 5 || !f[3].startsWith("net:[")) {
                    continue;
                }
                long ino = Long.parseLong(f[3], 5, f[3].length() - 1, 10);
                now.computeIfAbsent(ino, k -> new ArrayList<>()).add(unescape(f[4]));
            }
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("reading /proc/self/mountinfo: " + e.getMessage(), e);
        }
        Set<Long> changed = new HashSet<>(now.keySet());
        changed.addAll(mounts.keySet());
        changed.removeIf(k -> now.getOrDefault(k, List.of()).equals(mounts.getOrDefault(k, List.of())));
        touched.addAll(changed);
        mounts = now;
    }

    /** mountinfo writes space, tab, newline and backslash as octal escapes. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                try {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                    i += 3;
                    continue;
                } catch (NumberFormatException ignored) {
                    // not an escape
                }
            }
            b.append(c);
        }
        return b.toString();
    }
}
