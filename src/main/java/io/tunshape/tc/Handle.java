package io.tunshape.tc;

/** A tc handle: major:minor, written in hex as tc does. */
public record Handle(long value) {
    public static final Handle ROOT = new Handle(0xFFFFFFFFL);
    public static final Handle UNSPEC = new Handle(0);

    public static Handle of(int major, int minor) {
        return new Handle(((long) (major & 0xFFFF) << 16) | (minor & 0xFFFF));
    }

    public int major() {
        return (int) (value >>> 16) & 0xFFFF;
    }

    public int minor() {
        return (int) value & 0xFFFF;
    }

    public static Handle parse(String s) {
        if (s.equals("root")) {
            return ROOT;
        }
        int c = s.indexOf(':');
        if (c < 0) {
            throw new UnitException("handle '" + s + "' should be MAJOR:MINOR in hex");
        }
        int maj = c == 0 ? 0 : Integer.parseInt(s.substring(0, c), 16);
        int min = c == s.length() - 1 ? 0 : Integer.parseInt(s.substring(c + 1), 16);
        return of(maj, min);
    }

    // equals, hashCode and toString written out (as the record's own would be: RecordMethodsTest): the
    // record's generated ones bootstrap java.lang.runtime.ObjectMethods on first use, 26 ms of a one-shot start (issue 24)
    @Override
    public boolean equals(Object o) {
        return o instanceof Handle h && h.value == value;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(value);
    }

    @Override
    public String toString() {
        if (value == ROOT.value) {
            return "root";
        }
        return Integer.toHexString(major()) + ":" + (minor() == 0 ? "" : Integer.toHexString(minor()));
    }
}
