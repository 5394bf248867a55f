package io.tunshape.tc;

/** tbf: one token bucket at {@code rate}, {@code burst} bytes deep, queueing up to {@code limit} bytes. */
public record TbfSpec(Rate rate, Size burst, Size limit, int overhead, int mpu) implements QdiscSpec {
    @Override
    public String kind() {
        return "tbf";
    }
}
