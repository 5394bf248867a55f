package io.tunshape.tc;

/** A size in bytes. */
public record Size(long bytes) implements Comparable<Size> {
    public Size {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative size");
        }
    }

    public static Size of(long bytes) {
        return new Size(bytes);
    }

    public static Size parse(String text) {
        return Units.parseSize(text);
    }

    // equals, hashCode and toString written out (as the record's own would be: RecordMethodsTest): the
    // record's generated ones bootstrap java.lang.runtime.ObjectMethods on first use, 26 ms of a one-shot start (issue 24)
    @Override
    public boolean equals(Object o) {
        return o instanceof Size x && x.bytes == bytes;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(bytes);
    }

    @Override
    public int compareTo(Size o) {
        return Long.compare(bytes, o.bytes);
    }

    @Override
    public String toString() {
        return bytes + "b";
    }
}
