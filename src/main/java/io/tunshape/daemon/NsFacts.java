package io.tunshape.daemon;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.tunshape.netlink.NetnsEntry;
import io.tunshape.sys.Fd;
import io.tunshape.sys.Sys;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a person knows a network namespace by: its names (the mount points' last parts: `ip netns`
 * names, Docker's sandbox ids), and for one that processes hold, the hostname they see, the command
 * of the first of them (the lowest pid: the one that made it, as a rule) and the container it is,
 * where a runtime's cgroup names one. Rules select namespaces by these; logs and status name them so.
 */
record NsFacts(long ino, boolean own, List<String> mountPoints, int pid, String hostname, String command,
               String commandLine, String containerId, String containerName) {

    /** The namespaces' last path parts: what `netns:` globs match. */
    List<String> names() {
        List<String> n = new ArrayList<>();
        for (String m : mountPoints) {
            n.add(m.substring(m.lastIndexOf('/') + 1));
        }
        return n;
    }

    /** The name reports and status use: the first mount name, or null for an unnamed namespace. */
    String name() {
        return mountPoints.isEmpty() ? null : names().get(0);
    }

    /** A path that opens it now (its mount, or /proc/PID/ns/net); null for the daemon's own. */
    String path() {
        return own ? null : !mountPoints.isEmpty() ? mountPoints.get(0) : "/proc/" + pid + "/ns/net";
    }

    /** How logs and status name it: a name, or hostname, command and pid; never an inode alone. */
    String label() {
        if (own) {
            return "the daemon's own namespace";
        }
        if (!mountPoints.isEmpty()) {
            // a name is what its user gave it; the processes in it come and go
            return name();
        }
        List<String> held = new ArrayList<>();
        if (pid > 0) {
            if (containerName != null || containerId != null) {
                held.add("container " + (containerName != null ? containerName
                        : containerId.substring(0, Math.min(12, containerId.length()))));
            }
            if (hostname != null) {
                held.add("hostname " + hostname);
            }
            held.add(command + " pid " + pid);
        }
        // neither mounted nor held is not seen in practice: the inode is all there is then
        return held.isEmpty() ? "namespace " + ino : String.join(", ", held);
    }

    private static final Pattern CONTAINER = Pattern.compile(
            "(?:docker-|/docker/|libpod-|/libpod/|crio-|cri-containerd-)([0-9a-f]{64})|(?:lxc\\.payload\\.|/lxc/)([^/.]+)");

    /**
     * Describes the namespace {@code ino}, held by {@code pid} (0: none) and mounted at
     * {@code mountPoints}. The hostname is read inside the process's UTS namespace ({@code uts}
     * enters it on this thread and comes back); reads of a process that has just gone give nulls.
     */
    static NsFacts describe(long ino, boolean own, List<String> mountPoints, int pid, NetnsEntry uts) {
        if (pid <= 0) {
            return new NsFacts(ino, own, mountPoints, 0, null, null, null, null, null);
        }
        String comm = read("/proc/" + pid + "/comm");
        String cmdline = read("/proc/" + pid + "/cmdline");
        if (cmdline != null) {
            cmdline = cmdline.replace('\0', ' ').strip();
        }
        String host = hostname(pid, uts);
        String id = null;
        String name = null;
        String cg = read("/proc/" + pid + "/cgroup");
        if (cg != null) {
            Matcher m = CONTAINER.matcher(cg);
            if (m.find()) {
                id = m.group(1) != null ? m.group(1) : null;
                name = m.group(2);
                if (id != null) {
                    name = containerName(id, DOCKER_STATE, STORAGE_ROOTS);
                }
            }
        }
        return new NsFacts(ino, own, mountPoints, pid, host, comm == null ? "?" : comm.strip(), cmdline, id, name);
    }

    private static String read(String path) {
        try {
            return new String(Files.readAllBytes(Path.of(path)), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String hostname(int pid, NetnsEntry uts) {
        try {
            String theirs = Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/uts")).toString();
            String ours = Files.readSymbolicLink(Path.of("/proc/thread-self/ns/uts")).toString();
            if (theirs.equals(ours) || uts == null) {
                String h = read("/proc/sys/kernel/hostname");
                return theirs.equals(ours) && h != null ? h.strip() : null;
            }
            try (Fd fd = Sys.open("/proc/" + pid + "/ns/uts", Sys.O_RDONLY | Sys.O_CLOEXEC)) {
                // /proc/sys/kernel/hostname shows the reader's UTS namespace
                String h = uts.within(fd, () -> read("/proc/sys/kernel/hostname"));
                return h == null ? null : h.strip();
            }
        } catch (Exception e) {
            return null;
        }
    }

    /** Where Docker keeps each container's state (config.v2.json: "Name":"/web"). */
    static final Path DOCKER_STATE = Path.of("/var/lib/docker/containers");
    /**
     * Where containers/storage (Podman, CRI-O, Buildah) keeps its list of containers, with their
     * names: {@code <root>/<driver>-containers/containers.json}, under the persistent root and the
     * run root (containers made with --rm or volatile storage are listed in the latter).
     */
    static final List<Path> STORAGE_ROOTS = List.of(Path.of("/var/lib/containers/storage"),
            Path.of("/run/containers/storage"));

    /** A container's name, from Docker's state or containers/storage's list, or null. */
    static String containerName(String id, Path dockerState, List<Path> storageRoots) {
        String cfg = read(dockerState.resolve(id).resolve("config.v2.json").toString());
        if (cfg != null) {
            Matcher m = Pattern.compile("\"Name\":\"/?([^\"]+)\"").matcher(cfg);
            if (m.find()) {
                return m.group(1);
            }
        }
        for (Path root : storageRoots) {
            try (var dirs = Files.newDirectoryStream(root, "*-containers")) {
                for (Path d : dirs) {
                    for (String f : new String[] {"containers.json", "volatile-containers.json"}) {
                        String n = storageName(d.resolve(f), id);
                        if (n != null) {
                            return n;
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no such store here
            }
        }
        return null;
    }

    /** The first name of container {@code id} in a containers/storage list: [{"id": ..., "names": [...]}, ...]. */
    private static String storageName(Path file, String id) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try (JsonParser p = new JsonFactory()
                .createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                return null;
            }
            while (p.nextToken() == JsonToken.START_OBJECT) {
                String cid = null;
                String first = null;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String field = p.currentName();
                    JsonToken t = p.nextToken();
                    if ("id".equals(field) && t == JsonToken.VALUE_STRING) {
                        cid = p.getText();
                    } else if ("names".equals(field) && t == JsonToken.START_ARRAY) {
                        while (p.nextToken() == JsonToken.VALUE_STRING) {
                            if (first == null) {
                                first = p.getText();
                            }
                        }
                    } else {
                        p.skipChildren();
                    }
                }
                if (id.equals(cid)) {
                    return first;
                }
            }
        } catch (IOException | RuntimeException e) {
            // unreadable or not what we know: no name
        }
        return null;
    }
}
