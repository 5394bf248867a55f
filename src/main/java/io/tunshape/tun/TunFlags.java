package io.tunshape.tun;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A tun/tap device's flags as the kernel shows them in sysfs ({@code /sys/class/net/DEV/tun_flags},
 * "0x1001": IFF_TUN | IFF_NO_PI), for any driver's device, not only the pump's: whether kernel flow
 * control ({@link TunDevice#IFF_BACKPRESSURE}) is on, whether frames carry a virtio_net_hdr.
 * The flags are those of the last attachment (TUNSETIFF); a device nobody has attached to since it
 * was created shows its creator's.
 *
 * <p>Sysfs shows the devices of the network namespace that mounted it, not the reader's: read a
 * namespace's devices through a sysfs mounted inside it (as {@code ip netns exec} mounts one), and
 * pass its {@code class/net} directory.
 */
public final class TunFlags {
    /** The devices of the namespace /sys was mounted in. */
    public static final Path CLASS_NET = Path.of("/sys/class/net");

    private TunFlags() {
    }

    /** The flags of {@code dev} under /sys/class/net; -1 when it has none (no such device, not tun/tap). */
    public static int read(String dev) {
        return read(CLASS_NET, dev);
    }

    /** The flags of {@code dev} under {@code classNet}; -1 when it has none (no such device, not tun/tap). */
    public static int read(Path classNet, String dev) {
        if (dev.isEmpty() || dev.contains("/") || dev.equals(".") || dev.equals("..")) {
            throw new IllegalArgumentException("'" + dev + "' is not an interface name");
        }
        try {
            return parse(Files.readString(classNet.resolve(dev).resolve("tun_flags"), StandardCharsets.US_ASCII));
        } catch (IOException e) {
            return -1; // no such device, not a tun/tap device, or it went away while it was read
        }
    }

    /** "0x1081\n" (the kernel's "%#x") as a number. */
    static int parse(String text) {
        String t = text.strip();
        if (!t.startsWith("0x") && !t.startsWith("0X")) {
            return t.equals("0") ? 0 : Integer.parseInt(t, 16);
        }
        return Integer.parseUnsignedInt(t.substring(2), 16);
    }

    /** Whether {@code flags} (from {@link #read}) say kernel flow control is on; false for -1. */
    public static boolean backpressure(int flags) {
        return flags >= 0 && (flags & TunDevice.IFF_BACKPRESSURE) != 0;
    }
}
