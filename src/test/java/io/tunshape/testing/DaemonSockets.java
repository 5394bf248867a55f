package io.tunshape.testing;

import io.tunshape.sys.UnixDatagram;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A test's side of a daemon's sockets: a report datagram in, the control socket's JSON out. */
public final class DaemonSockets {
    private DaemonSockets() {
    }

    public static void report(Path reportSocket, String json) {
        try (UnixDatagram d = new UnixDatagram()) {
            byte[] b = json.getBytes(StandardCharsets.UTF_8);
            d.send(ByteBuffer.allocateDirect(b.length).put(b).flip(), UnixDatagram.address(reportSocket.toString()));
        }
    }

    public static String status(Path controlSocket) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(controlSocket));
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            while (c.read(buf) >= 0 && buf.hasRemaining()) {
                // to the end
            }
            buf.flip();
            return StandardCharsets.UTF_8.decode(buf).toString();
        }
    }
}
