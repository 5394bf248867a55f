package io.tunshape.tc;

/** A rate in bytes per second, the kernel's unit. Shown to people in bit/s. */
public record Rate(long bytesPerSecond) implements Comparable<Rate> {
    /** The largest rate a u64 field holds, kept well clear of overflow in the arithmetic. */
    public static final long MAX_BYTES = Long.MAX_VALUE / 64;

    public Rate {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("negative rate");
        }
    }

    public static Rate ofBytes(long bytesPerSecond) {
        return new Rate(bytesPerSecond);
    }

    public static Rate ofBits(long bitsPerSecond) {
        return new Rate(bitsPerSecond / 8);
    }

    public static Rate parse(String text) {
        return Units.parseRate(text);
    }

    public long bitsPerSecond() {
        return bytesPerSecond * 8;
    }

    /** Whether the kernel needs the 64-bit attribute (the u32 field then holds 0xFFFFFFFF). */
    public boolean needs64() {
        return bytesPerSecond >= (1L << 32);
    }

    /** The u32 ratespec field. */
    public long u32() {
        return needs64() ? 0xFFFFFFFFL : bytesPerSecond;
    }

    /** Microseconds to send {@code bytes} at this rate, rounded up. */
    public double microsFor(long bytes) {
        return bytes * 1e6 / bytesPerSecond;
    }

    // equals, hashCode and toString written out (as the record's own would be: RecordMethodsTest): the
    // record's generated ones bootstrap java.lang.runtime.ObjectMethods on first use, 26 ms of a one-shot start (issue 24)
    @Override
    public boolean equals(Object o) {
        return o instanceof Rate x && x.bytesPerSecond == bytesPerSecond;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(bytesPerSecond);
    }

    @Override
    public int compareTo(Rate o) {
        return Long.compare(bytesPerSecond, o.bytesPerSecond);
    }

    @Override
    public String toString() {
        return format(bitsPerSecond());
    }

    /**
     * "9600bit", "9.6kbit", "1.5mbit", "40gbit": at most three decimals, otherwise plain bits; tc reads it
     * back. In long arithmetic (BigDecimal's division was a tenth of profiles list, issue 24; RateFormatTest
     * holds the text equal to it).
     */
    public static String format(long bits) {
        String[] units = {"tbit", "gbit", "mbit", "kbit"};
        long[] div = {1_000_000_000_000L, 1_000_000_000L, 1_000_000L, 1000L};
        for (int i = 0; i < units.length; i++) {
            long milli = div[i] / 1000;
            if (bits >= div[i] && bits % milli == 0) {
                long frac = bits % div[i] / milli;
                String f = frac == 0 ? "" : "." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + frac;
                while (f.endsWith("0")) {
                    f = f.substring(0, f.length() - 1);
                }
                return bits / div[i] + f + units[i];
            }
        }
        return bits + "bit";
    }
}
