package io.tunshape.pump;

import io.tunshape.tun.TunDevice;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Whether the pump opens its device with the kernel's flow control ({@link TunDevice#IFF_BACKPRESSURE},
 * Linux 7.3): {@code auto} (the default) wherever TUNGETFEATURES offers it, {@code on} (an error
 * where it is not offered), {@code off}. With it, a full ring stops the device's queue instead of
 * dropping, so tunshape's qdisc holds what the pump cannot take yet and the senders block; a pump
 * that stops reading then blocks them until it reads again.
 */
public enum KernelFlowControl {
    AUTO, ON, OFF;

    /** What was decided, and why, in words for the pump's first lines. */
    public record Decision(boolean on, String why) {
        /** The line the pump says once at its start. */
        public String describe() {
            return "kernel flow control: " + (on ? "on" : "off") + " (" + why + ")";
        }
    }

    /** {@code on} where the kernel does not offer the flag; nothing was opened or created. */
    public static final class NotOfferedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NotOfferedException(String message) {
            super(message);
        }
    }

    /** "auto", "on" or "off" (any case). */
    public static KernelFlowControl parse(String text) {
        for (KernelFlowControl k : values()) {
            if (k.name().equalsIgnoreCase(text)) {
                return k;
            }
        }
        throw new IllegalArgumentException("'" + text + "' is not a choice; accepted: auto, on, off");
    }

    /**
     * Decides for a kernel whose TUNGETFEATURES gave {@code features}, named {@code release} in
     * messages; throws {@link NotOfferedException} for {@code on} without the flag.
     */
    public Decision decide(int features, String release) {
        boolean offered = (features & TunDevice.IFF_BACKPRESSURE) != 0;
        String notOffered = "Linux " + release + " does not offer IFF_BACKPRESSURE (TUNGETFEATURES 0x"
                + Integer.toHexString(features) + "; it came with Linux 7.3)";
        return switch (this) {
            case OFF -> new Decision(false, "--kernel-flow-control off; a full ring drops");
            case AUTO -> offered ? new Decision(true, "IFF_BACKPRESSURE: a full ring stops the device's queue; "
                    + "a pump that stops reading blocks the senders") : new Decision(false, notOffered + "; a full ring drops");
            case ON -> {
                if (!offered) {
                    throw new NotOfferedException("--kernel-flow-control on: " + notOffered
                            + "; nothing was changed; use auto or off");
                }
                yield new Decision(true, "IFF_BACKPRESSURE, asked for: a full ring stops the device's queue; "
                        + "a pump that stops reading blocks the senders");
            }
        };
    }

    /** The running kernel's release, as uname -r says it ("6.18.0-1-amd64"), or "unknown". */
    public static String kernelRelease() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
