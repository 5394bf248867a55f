package io.tunshape.daemon;

import io.tunshape.sys.NativeException;
import io.tunshape.sys.UnixDatagram;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET (Type=notify units). */
public final class SystemdNotify {
    private final String socket = System.getenv("NOTIFY_SOCKET");

    public boolean enabled() {
        return socket != null && !socket.isEmpty();
    }

    /** Sends "KEY=value" lines; silently nothing outside systemd. */
    public void send(String state) {
        if (!enabled()) {
            return;
        }
        try (UnixDatagram d = new UnixDatagram()) {
            byte[] b = state.getBytes(StandardCharsets.UTF_8);
            ByteBuffer buf = ByteBuffer.allocateDirect(b.length).put(b).flip();
            d.send(buf, UnixDatagram.address(socket));
        } catch (NativeException | IllegalArgumentException e) {
            // systemd went away or the variable is wrong: nothing a daemon can do about it
        }
    }

    /** The watchdog period systemd asked for, in microseconds, or 0. */
    public long watchdogMicros() {
        String w = System.getenv("WATCHDOG_USEC");
        try {
            return w == null ? 0 : Long.parseLong(w.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
