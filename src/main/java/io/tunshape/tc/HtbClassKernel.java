package io.tunshape.tc;

/** An htb class as the kernel dumps it, in the kernel's units. */
public record HtbClassKernel(long rateBytes, long ceilBytes, long bufferTicks, long cbufferTicks, long quantum,
                             long prio, int overhead, int mpu) {
}
