package io.tunshape.pump;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/** A TCP connection with KISS framing: a KISS TNC such as Direwolf (its KISS port, 8001 by default). */
final class TcpBackend extends StreamBackend {
    private final InetSocketAddress peer;
    private Socket socket;

    TcpBackend(InetSocketAddress peer, Framing framing) {
        super(() -> framing(framing));
        this.peer = peer;
    }

    @Override
    protected Streams connect() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(peer, 5000);
        socket = s;
        return new Streams(s.getInputStream(), s.getOutputStream());
    }

    @Override
    protected void disconnect() {
        Socket s = socket;
        socket = null;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    @Override
    public String describe() {
        return "tcp " + peer.getHostString() + ":" + peer.getPort();
    }
}
