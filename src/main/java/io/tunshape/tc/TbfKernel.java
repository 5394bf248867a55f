package io.tunshape.tc;

/** A tbf as the kernel dumps it, in the kernel's units: what idempotency compares. */
public record TbfKernel(long rateBytes, long limit, long bufferTicks, int overhead, int mpu) {
    // equals, hashCode and toString written out (as the record's own would be: RecordMethodsTest): the
    // record's generated ones bootstrap java.lang.runtime.ObjectMethods on first use, 26 ms of a one-shot start (issue 24)
    @Override
    public boolean equals(Object o) {
        return o instanceof TbfKernel k && k.rateBytes == rateBytes && k.limit == limit && k.bufferTicks == bufferTicks
                && k.overhead == overhead && k.mpu == mpu;
    }

    @Override
    public int hashCode() {
        return (((Long.hashCode(rateBytes) * 31 + Long.hashCode(limit)) * 31 + Long.hashCode(bufferTicks)) * 31
                + overhead) * 31 + mpu;
    }

    @Override
    public String toString() {
        return "TbfKernel[rateBytes=" + rateBytes + ", limit=" + limit + ", bufferTicks=" + bufferTicks
                + ", overhead=" + overhead + ", mpu=" + mpu + "]";
    }
}
