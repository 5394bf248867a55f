package io.tunshape.tc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The packet scheduler clock as tc sees it (/proc/net/psched), and the one place where sizes and
 * rates become ticks. Ticks are rounded up and clamped to u32, as iproute2 6.15 does: iproute2 6.1
 * truncates twice and wraps above 2^32 ticks (a burst of more than ~275 s at the rate).
 */
public class Psched {
    public static final long MAX_TICKS = 0xFFFFFFFFL;
    /** 1 tick = 64 ns in the kernel (PSCHED_SHIFT). */
    public static final int TICK_NS_SHIFT = 6;

    /** ticks per microsecond = num / den. */
    private final long num;
    private final long den;

    public Psched(long t2us, long us2t, long clockRes) {
        long clockFactor = Math.max(1, clockRes / 1_000_000);
        if (clockRes == 1_000_000_000L) {
            t2us = us2t;
        }
        this.num = t2us * clockFactor;
        this.den = us2t;
    }

    /** This machine's: 1000/64 ticks per µs = 15.625 here. */
    public static final Psched DEFAULT = new Psched(1000, 64, 1_000_000);

    public static Psched system() {
        try {
            String line;
            try (java.io.BufferedReader r = Files.newBufferedReader(Path.of("/proc/net/psched"))) {
                line = r.readLine();
            }
            String[] f = line.trim().split("\\s+");
            return new Psched(Long.parseLong(f[0], 16), Long.parseLong(f[1], 16), Long.parseLong(f[2], 16));
        } catch (IOException | RuntimeException e) {
            return DEFAULT;
        }
    }

    public double ticksPerMicro() {
        return (double) num / den;
    }

    /** Unclamped ticks to send {@code size} bytes at {@code bytesPerSecond}, rounded up. */
    public long exactTicks(long bytesPerSecond, long size) {
        if (bytesPerSecond <= 0) {
            throw new IllegalArgumentException("rate 0");
        }
        // size * 1e6 * num / (rate * den), rounded up; 128-bit safe via BigInteger only when needed
        long a = size;
        try {
            long top = Math.multiplyExact(Math.multiplyExact(a, 1_000_000L), num);
            long bottom = Math.multiplyExact(bytesPerSecond, den);
            return Math.floorDiv(top + bottom - 1, bottom);
        } catch (ArithmeticException e) {
            java.math.BigInteger top = java.math.BigInteger.valueOf(a).multiply(java.math.BigInteger.valueOf(1_000_000L))
                    .multiply(java.math.BigInteger.valueOf(num));
            java.math.BigInteger bottom = java.math.BigInteger.valueOf(bytesPerSecond).multiply(java.math.BigInteger.valueOf(den));
            java.math.BigInteger[] qr = top.divideAndRemainder(bottom);
            java.math.BigInteger q = qr[1].signum() == 0 ? qr[0] : qr[0].add(java.math.BigInteger.ONE);
            return q.min(java.math.BigInteger.valueOf(Long.MAX_VALUE)).longValue();
        }
    }

    /** tc_calc_xmittime: ticks, rounded up, clamped to the u32 field. (Tests override it with tc 6.1's arithmetic.) */
    public long xmitTicks(long bytesPerSecond, long size) {
        return Math.min(exactTicks(bytesPerSecond, size), MAX_TICKS);
    }

    /** Whether {@code size} at the rate fits in a u32 tick field without clamping. */
    public boolean fits(long bytesPerSecond, long size) {
        return exactTicks(bytesPerSecond, size) <= MAX_TICKS;
    }

    /** tc_calc_xmitsize: the bytes {@code ticks} let through at the rate, rounded down. */
    public long xmitSize(long bytesPerSecond, long ticks) {
        java.math.BigInteger b = java.math.BigInteger.valueOf(ticks).multiply(java.math.BigInteger.valueOf(bytesPerSecond))
                .multiply(java.math.BigInteger.valueOf(den))
                .divide(java.math.BigInteger.valueOf(num).multiply(java.math.BigInteger.valueOf(1_000_000L)));
        return b.longValue();
    }

    /** The largest time a u32 tick field holds, in µs (~274.9 s here). */
    public double maxMicros() {
        return MAX_TICKS * (double) den / num;
    }

    /** tc_calc_rtable: cell_log chosen from mtu (2047 when 0), sizes raised to mpu. */
    public long[] rateTable(long rateU32, int mtu, int mpu) {
        int cellLog = cellLog(mtu);
        long[] t = new long[256];
        for (int i = 0; i < 256; i++) {
            long sz = (long) (i + 1) << cellLog;
            if (sz < mpu) {
                sz = mpu;
            }
            t[i] = xmitTicks(rateU32, sz);
        }
        return t;
    }

    public static int cellLog(int mtu) {
        if (mtu == 0) {
            mtu = 2047;
        }
        int cellLog = 0;
        while ((mtu >> cellLog) > 255) {
            cellLog++;
        }
        return cellLog;
    }
}
