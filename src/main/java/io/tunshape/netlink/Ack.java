package io.tunshape.netlink;

import java.util.List;

/** A successful acknowledgement, with the warnings the kernel attached (extended ack on success). */
public record Ack(List<String> warnings) {
    public static final Ack EMPTY = new Ack(List.of());
}
