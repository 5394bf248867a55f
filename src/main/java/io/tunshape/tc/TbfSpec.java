package io.tunshape.tc;

/** tbf: one token bucket at {@code rate}, {@code burst} bytes deep, queueing up to {@code limit} bytes. */
public record TbfSpec(Rate rate, Size burst, Size limit, int overhead, int mpu) implements QdiscSpec {
    // equals, hashCode and toString written out (as the record's own would be: RecordMethodsTest): the
    // record's generated ones bootstrap java.lang.runtime.ObjectMethods on first use, 26 ms of a one-shot start (issue 24)
    @Override
    public boolean equals(Object o) {
        return o instanceof TbfSpec t && t.rate.equals(rate) && t.burst.equals(burst) && t.limit.equals(limit)
                && t.overhead == overhead && t.mpu == mpu;
    }

    @Override
    public int hashCode() {
        return (((rate.hashCode() * 31 + burst.hashCode()) * 31 + limit.hashCode()) * 31 + overhead) * 31 + mpu;
    }

    @Override
    public String toString() {
        return "TbfSpec[rate=" + rate + ", burst=" + burst + ", limit=" + limit + ", overhead=" + overhead
                + ", mpu=" + mpu + "]";
    }

    @Override
    public String kind() {
        return "tbf";
    }
}
