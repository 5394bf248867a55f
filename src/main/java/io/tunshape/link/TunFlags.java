package io.tunshape.link;

import io.tunshape.netlink.Netns;
import io.tunshape.sys.Mounts;
import io.tunshape.tun.TunDevice;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * The flags a tun/tap device was attached with (TUNSETIFF), as sysfs shows them in
 * /sys/class/net/DEV/tun_flags, whoever its driver is. IFF_BACKPRESSURE (Linux 7.3) is the kernel's
 * own flow control: with it, a full ring stops the device's queue instead of dropping. This class
 * finds the right sysfs for a namespace; {@link io.tunshape.tun.TunFlags} reads and parses the file.
 */
public final class TunFlags {
    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_BACKPRESSURE = TunDevice.IFF_BACKPRESSURE;

    private TunFlags() {
    }

    /** True when the flags carry the kernel's flow control. */
    public static boolean flowControl(int flags) {
        return io.tunshape.tun.TunFlags.backpressure(flags);
    }

    /**
     * The tun_flags of the tun/tap devices among {@code links}, all of namespace {@code netns} (a name
     * or path; null: the process's own), by device name: one sysfs read for the lot, the one method
     * show, top and the daemon's passes and status call. A device whose flags cannot be read is
     * absent; when the namespace's sysfs cannot be read at all (no CAP_SYS_ADMIN to mount one, the
     * namespace gone), the map is empty: unknown, never an error.
     */
    public static Map<String, Integer> ofLinks(String netns, Collection<LinkInfo> links) {
        Map<String, Integer> indexes = new HashMap<>();
        for (LinkInfo l : links) {
            if (l.isTunTap()) {
                indexes.put(l.name(), l.index());
            }
        }
        if (indexes.isEmpty()) {
            return Map.of();
        }
        try {
            return read(netns, indexes);
        } catch (Exception e) {
            return Map.of();
        }
    }

    /**
     * The tun_flags of the named devices in namespace {@code netns} (null: the calling thread's, which
     * differs from the process's on a thread that entered another one, as the demo's does), by
     * device name; a device sysfs does not show (gone, or not tun/tap) is absent. The host's /sys is
     * read directly when it shows the process's own namespace (its ifindex files agree with
     * {@code indexes}); otherwise a sysfs is mounted inside the namespace on a throwaway thread.
     */
    public static Map<String, Integer> read(String netns, Map<String, Integer> indexes) throws Exception {
        if (netns == null) {
            Map<String, Integer> direct = readIfSame(Path.of("/sys/class/net"), indexes);
            if (direct != null) {
                return direct;
            }
        }
        return Netns.run(netns == null ? "/proc/thread-self/ns/net" : netns, () -> {
            Mounts.privateSysfs();
            return readAll(Path.of("/sys/class/net"), indexes);
        });
    }

    /** Reads the flags when every named device's ifindex in {@code dir} matches; null otherwise. */
    static Map<String, Integer> readIfSame(Path dir, Map<String, Integer> indexes) throws IOException {
        for (Map.Entry<String, Integer> e : indexes.entrySet()) {
            String ix = text(dir.resolve(e.getKey()).resolve("ifindex"));
            if (ix == null || Integer.parseInt(ix) != e.getValue()) {
                return null;
            }
        }
        return readAll(dir, indexes);
    }

    static Map<String, Integer> readAll(Path dir, Map<String, Integer> indexes) throws IOException {
        Map<String, Integer> out = new HashMap<>();
        for (String name : indexes.keySet()) {
            int f = io.tunshape.tun.TunFlags.read(dir, name);
            if (f >= 0) {
                out.put(name, f);
            }
        }
        return out;
    }

    private static String text(Path p) throws IOException {
        try {
            return Files.readString(p, StandardCharsets.US_ASCII).strip();
        } catch (NoSuchFileException e) {
            return null;
        }
    }
}
