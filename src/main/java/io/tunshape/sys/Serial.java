package io.tunshape.sys;

import com.sun.jna.LastErrorException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Serial lines: a tty put in raw mode at a standard line speed (termios). */
public final class Serial {
    /** open(2): the tty does not become the process's controlling terminal. */
    public static final int O_NOCTTY = 0x100;
    private static final int TCSANOW = 0;
    private static final int VTIME = 5;
    private static final int VMIN = 6;
    /** struct termios: c_iflag, c_oflag, c_cflag, c_lflag (4 bytes each), c_line, then c_cc. */
    private static final int CFLAG_OFFSET = 8;
    private static final int CC_OFFSET = 17;
    private static final int CLOCAL = 0x800;
    private static final int CREAD = 0x80;

    /** Linux's speed_t codes for the usual line speeds. */
    private static final int[][] SPEEDS = {
        {300, 7}, {600, 8}, {1200, 9}, {1800, 10}, {2400, 11}, {4800, 12}, {9600, 13}, {19200, 14}, {38400, 15},
        {57600, 0x1001}, {115200, 0x1002}, {230400, 0x1003}, {460800, 0x1004}, {500000, 0x1005}, {576000, 0x1006},
        {921600, 0x1007}, {1000000, 0x1008}, {1152000, 0x1009}, {1500000, 0x100A}, {2000000, 0x100B},
        {2500000, 0x100C}, {3000000, 0x100D}, {3500000, 0x100E}, {4000000, 0x100F},
    };

    private Serial() {
    }

    /** The line speeds {@link #raw} accepts. */
    public static String speeds() {
        StringBuilder b = new StringBuilder();
        for (int[] s : SPEEDS) {
            b.append(b.length() == 0 ? "" : ", ").append(s[0]);
        }
        return b.toString();
    }

    /**
     * Puts a tty in raw mode at {@code baud} (8N1, no flow control, receiver on), with reads that
     * return after 100 ms without data so a reader can notice it should stop.
     */
    public static void raw(Fd fd, int baud) {
        int code = -1;
        for (int[] s : SPEEDS) {
            if (s[0] == baud) {
                code = s[1];
            }
        }
        if (code < 0) {
            throw new IllegalArgumentException("baud " + baud + " is not a standard line speed; accepted: " + speeds());
        }
        int n = fd.acquire();
        try {
            ByteBuffer t = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder());
            LibC.tcgetattr(n, t);
            LibC.cfmakeraw(t);
            LibC.cfsetspeed(t, code);
            t.putInt(CFLAG_OFFSET, t.getInt(CFLAG_OFFSET) | CLOCAL | CREAD);
            t.put(CC_OFFSET + VMIN, (byte) 0);
            t.put(CC_OFFSET + VTIME, (byte) 1);
            LibC.tcsetattr(n, TCSANOW, t);
        } catch (LastErrorException e) {
            throw new NativeException("termios", e.getErrorCode());
        } finally {
            fd.release();
        }
    }
}
