package io.tunshape.sys;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every libc call tunshape makes, through whichever way this JVM reaches libc: direct mapping
 * (the default) or JNA Functions (-Dtunshape.jna.functions=true, as one-shot commands run; the
 * build's second surefire run, "one-shot-calls", runs this class so). Arguments (direct buffers from
 * their position, arrays written back, strings, null pointers, addresses as long) and errno must
 * come out the same either way. (mount, umount2, unshare and setns need root: TunFlagsKernelTest and
 * the kernel tests, run the same two ways, cover them.)
 */
class LibCTest {
    @BeforeAll
    static void say() {
        System.out.println("LibCTest: libc reached by " + (LibC.DIRECT ? "direct mapping" : "JNA Functions"));
    }

    @Test
    void theWayIsTheOneThePropertyChose() {
        assertEquals(!Boolean.getBoolean(Sys.ONE_SHOT_CALLS), LibC.DIRECT);
    }

    @Test
    void filesOpenWriteReadPollFlockAndErrno(@TempDir Path dir) throws Exception {
        Path p = Files.createFile(dir.resolve("f"));
        try (Fd a = Sys.open(p.toString(), Sys.O_RDWR | Sys.O_CLOEXEC);
             Fd b = Sys.open(p.toString(), Sys.O_RDONLY | Sys.O_CLOEXEC)) {
            ByteBuffer out = direct(16).put("xxhello".getBytes(StandardCharsets.US_ASCII)).flip();
            out.position(2); // from the position
            assertEquals(5, Sys.write(a, out));
            assertEquals(7, out.position());
            assertEquals("hello", Files.readString(p));
            ByteBuffer again = out.duplicate().position(2); // the call itself, handed a buffer at position 2
            int n = a.acquire();
            try {
                assertEquals(5, LibC.write(n, again, 5));
            } finally {
                a.release();
            }
            assertEquals("hellohello", Files.readString(p));
            assertTrue(Sys.poll(b, Sys.POLLIN, 0) != 0, "a regular file is always readable");
            ByteBuffer in = direct(16);
            in.position(3);
            assertEquals(10, Sys.read(b, in));
            assertEquals(13, in.position());
            byte[] got = new byte[10];
            in.get(3, got);
            assertEquals("hellohello", new String(got, StandardCharsets.US_ASCII));
            assertTrue(Sys.tryFlock(a, Sys.LOCK_EX));
            assertFalse(Sys.tryFlock(b, Sys.LOCK_EX), "held through the other open file");
        }
        NativeException e = assertThrows(NativeException.class, () -> Sys.open(dir.resolve("none").toString(), Sys.O_RDONLY));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("No such file or directory"), e.getMessage());
    }

    @Test
    void addressesReadWriteAndWritev(@TempDir Path dir) throws Exception {
        Path p = Files.createFile(dir.resolve("f"));
        ByteBuffer data = direct(64).put("abcdefgh".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer iov = direct(32); // two struct iovec: "cd", then "gh"
        iov.putLong(0, Sys.address(data) + 2).putLong(8, 2).putLong(16, Sys.address(data) + 6).putLong(24, 2);
        try (Fd f = Sys.open(p.toString(), Sys.O_RDWR | Sys.O_CLOEXEC)) {
            assertEquals(3, Sys.write(f, Sys.address(data), 3));
            assertEquals(4, Sys.writev(f, Sys.address(iov), 2));
        }
        assertEquals("abccdgh", Files.readString(p));
        try (Fd f = Sys.open(p.toString(), Sys.O_RDONLY | Sys.O_CLOEXEC)) {
            ByteBuffer back = direct(16);
            assertEquals(7, Sys.read(f, Sys.address(back) + 1, 15));
            byte[] got = new byte[7];
            back.get(1, got);
            assertEquals("abccdgh", new String(got, StandardCharsets.US_ASCII));
        }
    }

    @Test
    void unixDatagramsWithCredentialsTimestampsAndATimeout(@TempDir Path dir) throws Exception {
        String path = dir.resolve("s").toString();
        try (UnixDatagram rx = new UnixDatagram(); UnixDatagram tx = new UnixDatagram()) {
            rx.bind(path);
            rx.passCredentials();
            rx.stampArrivals();
            rx.receiveTimeout(50);
            ByteBuffer name = direct(128);
            int len = Sys.getsockname(rx.fd(), name);
            assertEquals(2 + path.length() + 1, len, "sockaddr_un of the bound path, its length written back");
            Sys.setsockopt(rx.fd(), Sys.SOL_SOCKET, Sys.SO_RCVBUF, 65536);
            assertTrue(Sys.getsockopt(rx.fd(), Sys.SOL_SOCKET, Sys.SO_RCVBUF) >= 65536);

            tx.send(direct(8).put(new byte[] {1, 2, 3}).flip(), UnixDatagram.address(path));
            ByteBuffer buf = direct(64);
            assertEquals(3, rx.receiveWithSender(buf));
            byte[] got = new byte[3];
            buf.get(0, got);
            assertArrayEquals(new byte[] {1, 2, 3}, got);
            assertNotNull(rx.lastSender());
            assertEquals(ProcessHandle.current().pid(), rx.lastSender().pid());
            assertTrue(rx.lastArrivalNanos() > 0);

            NativeException e = assertThrows(NativeException.class, () -> rx.receiveWithSender(buf));
            assertEquals(Errno.EAGAIN, e.errno(), "SO_RCVTIMEO of 50 ms, nothing sent");
        }
    }

    @Test
    void udpOnLoopbackSendsAndReceivesAtAddresses() throws Exception {
        InetAddress lo = InetAddress.getLoopbackAddress();
        int base = 20000 + (int) (ProcessHandle.current().pid() % 20000);
        try (UdpSocket a = UdpSocket.open(new InetSocketAddress(lo, base), new InetSocketAddress(lo, base + 1));
             UdpSocket b = UdpSocket.open(new InetSocketAddress(lo, base + 1), new InetSocketAddress(lo, base))) {
            ByteBuffer out = direct(64).put("ping".getBytes(StandardCharsets.US_ASCII));
            a.sendOne(Sys.address(out), 4);
            ByteBuffer in = direct(64);
            assertEquals(4, b.receiveWaiting(Sys.address(in), 64));
            byte[] got = new byte[4];
            in.get(0, got);
            assertEquals("ping", new String(got, StandardCharsets.US_ASCII));
        }
    }

    @Test
    void termiosOnAPseudoTerminal() throws Exception {
        try (Fd pty = Sys.open("/dev/ptmx", Sys.O_RDWR | Sys.O_CLOEXEC | Serial.O_NOCTTY)) {
            Serial.raw(pty, 115200);
            ByteBuffer t = direct(64);
            int n = pty.acquire();
            try {
                LibC.tcgetattr(n, t);
            } finally {
                pty.release();
            }
            assertEquals(0, t.getInt(12) & 0x2, "raw: no canonical mode (ICANON off)");
            assertEquals(0x1002, t.getInt(8) & 0x100F, "115200 (B115200) in c_cflag");
            assertEquals(1, t.get(17 + 5), "VTIME 1 (100 ms)");
        }
    }

    private static ByteBuffer direct(int n) {
        return ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder());
    }
}
