package io.tunshape.tc;

/** A root qdisc tunshape can install. */
public sealed interface QdiscSpec permits TbfSpec, HtbSpec {
    String kind();
}
