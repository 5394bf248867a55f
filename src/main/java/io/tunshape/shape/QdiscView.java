package io.tunshape.shape;

import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Stats;
import io.tunshape.tc.TbfSpec;

import java.util.Map;

/**
 * A root qdisc as people see it: kind, handle, whether tunshape installed it, its parameters (tbf or
 * htb), counters, and the counters of htb classes by minor.
 */
public record QdiscView(String kind, Handle handle, boolean managed, TbfSpec tbf, HtbSpec htb, Stats stats,
                        Map<Integer, Stats> classStats) {
}
