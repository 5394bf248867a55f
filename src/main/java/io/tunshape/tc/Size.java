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

    @Override
    public int compareTo(Size o) {
        return Long.compare(bytes, o.bytes);
    }

    @Override
    public String toString() {
        return bytes + "b";
    }
}
