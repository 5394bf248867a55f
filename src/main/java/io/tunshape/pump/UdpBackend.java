package io.tunshape.pump;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;

/**
 * One frame per datagram to a peer pump (two pumps make a virtual link). The channel is connected
 * to the peer, so an ICMP error (peer down) surfaces as an exception the pump reports and retries.
 * Opened on the pump's thread, so it belongs to the pump's network namespace. Frames move between
 * direct buffers and the kernel without copies; receiving blocks until a datagram comes or the
 * backend is closed.
 */
public final class UdpBackend implements Backend {
    private final InetSocketAddress peer;
    private final InetSocketAddress listen;
    private volatile DatagramChannel channel;

    public UdpBackend(InetSocketAddress peer, InetSocketAddress listen) {
        this.peer = peer;
        this.listen = listen;
    }

    @Override
    public synchronized void open() throws IOException {
        close();
        DatagramChannel c = DatagramChannel.open();
        try {
            c.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            c.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 21);
            c.setOption(StandardSocketOptions.SO_SNDBUF, 1 << 21);
            c.bind(listen);
            c.connect(peer);
        } catch (IOException e) {
            c.close();
            throw e;
        }
        channel = c;
    }

    @Override
    public void send(ByteBuffer frame) throws IOException {
        DatagramChannel c = channel;
        if (c == null) {
            throw new IOException("not open");
        }
        c.write(frame);
    }

    @Override
    public boolean receive(ByteBuffer buf, int timeoutMs) throws IOException {
        DatagramChannel c = channel;
        if (c == null) {
            return Backend.idle(timeoutMs);
        }
        buf.clear();
        try {
            c.read(buf);
        } catch (ClosedChannelException e) {
            return false;
        }
        buf.flip();
        return true;
    }

    @Override
    public String describe() {
        return "udp " + peer.getHostString() + ":" + peer.getPort() + " (listening on " + listen.getHostString() + ":"
                + listen.getPort() + ")";
    }

    @Override
    public synchronized void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing anyway
            }
            channel = null;
        }
    }
}
