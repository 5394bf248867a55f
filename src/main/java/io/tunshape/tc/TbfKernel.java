package io.tunshape.tc;

/** A tbf as the kernel dumps it, in the kernel's units: what idempotency compares. */
public record TbfKernel(long rateBytes, long limit, long bufferTicks, int overhead, int mpu) {
}
