package io.tunshape.pump;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;

/**
 * One frame per datagram to a peer pump (two pumps make a virtual link). The socket is connected
 * to the peer, so an ICMP error (peer down) surfaces as an exception the pump reports and retries.
 * Opened on the pump's thread, so it belongs to the pump's network namespace.
 */
public final class UdpBackend implements Backend {
    private final InetSocketAddress peer;
    private final InetSocketAddress listen;
    private volatile DatagramSocket socket;
    private final byte[] txBuf = new byte[65536];
    private final byte[] rxBuf = new byte[65536];

    public UdpBackend(InetSocketAddress peer, InetSocketAddress listen) {
        this.peer = peer;
        this.listen = listen;
    }

    @Override
    public synchronized void open() throws IOException {
        close();
        DatagramSocket s = new DatagramSocket(null);
        s.setReuseAddress(true);
        s.bind(listen);
        s.connect(peer);
        s.setReceiveBufferSize(1 << 20);
        s.setSendBufferSize(1 << 20);
        socket = s;
    }

    @Override
    public void send(ByteBuffer frame) throws IOException {
        DatagramSocket s = socket;
        if (s == null) {
            throw new IOException("not open");
        }
        int n = frame.remaining();
        frame.get(txBuf, 0, n);
        s.send(new DatagramPacket(txBuf, n));
    }

    @Override
    public boolean receive(ByteBuffer buf, int timeoutMs) throws IOException {
        DatagramSocket s = socket;
        if (s == null) {
            sleep(timeoutMs);
            return false;
        }
        DatagramPacket p = new DatagramPacket(rxBuf, rxBuf.length);
        s.setSoTimeout(Math.max(1, timeoutMs));
        try {
            s.receive(p);
        } catch (SocketTimeoutException e) {
            return false;
        }
        buf.clear();
        buf.put(rxBuf, 0, p.getLength()).flip();
        return true;
    }

    private static void sleep(int ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String describe() {
        return "udp " + peer.getHostString() + ":" + peer.getPort() + " (listening on " + listen.getHostString() + ":"
                + listen.getPort() + ")";
    }

    @Override
    public synchronized void close() {
        if (socket != null) {
            socket.close();
            socket = null;
        }
    }
}
