package io.tunshape.pump;

import java.net.InetSocketAddress;

/** Parses --backend specifications. */
public final class Backends {
    public static final String FORMS = "sink, udp:HOST:PORT, exec:COMMAND, serial:DEVICE or tcp:HOST:PORT";

    private Backends() {
    }

    public static Backend parse(String spec, String listen, int baud, String framing) {
        int c = spec.indexOf(':');
        String kind = c < 0 ? spec : spec.substring(0, c);
        String rest = c < 0 ? "" : spec.substring(c + 1);
        switch (kind) {
            case "sink":
                if (!rest.isEmpty()) {
                    throw new IllegalArgumentException("sink takes no argument");
                }
                return new SinkBackend();
            case "udp": {
                InetSocketAddress peer = hostPort(rest, "udp:HOST:PORT");
                InetSocketAddress local = listen != null ? hostPort(listen, "--listen HOST:PORT")
                        : new InetSocketAddress("0.0.0.0", peer.getPort());
                return new UdpBackend(peer, local);
            }
            case "exec":
                if (rest.isBlank()) {
                    throw new IllegalArgumentException("exec needs a command: exec:COMMAND");
                }
                return new ExecBackend(rest);
            case "serial":
                if (rest.isBlank()) {
                    throw new IllegalArgumentException("serial needs a device: serial:/dev/ttyUSB0");
                }
                return new SerialBackend(rest, baud, framing == null ? Framing.SLIP : Framing.parse(framing));
            case "tcp":
                if (framing != null && Framing.parse(framing) != Framing.KISS) {
                    throw new IllegalArgumentException("tcp carries KISS framing only (--framing kiss)");
                }
                return new TcpBackend(hostPort(rest, "tcp:HOST:PORT"), Framing.KISS);
            default:
                throw new IllegalArgumentException("'" + spec + "' is not a backend; accepted: " + FORMS);
        }
    }

    static InetSocketAddress hostPort(String s, String form) {
        int c = s.lastIndexOf(':');
        if (c <= 0 || c == s.length() - 1) {
            throw new IllegalArgumentException("'" + s + "' is not " + form);
        }
        String host = s.substring(0, c);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(c + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not " + form + ": the port is not a number");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is out of range; accepted: 1 to 65535");
        }
        return new InetSocketAddress(host, port);
    }
}
