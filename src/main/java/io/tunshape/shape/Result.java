package io.tunshape.shape;

import java.util.List;

/** The outcome for one interface: before and after (null = kernel default) and what was said. */
public record Result(String iface, String netns, boolean changed, QdiscView before, QdiscView after,
                     List<String> warnings, List<String> explanation, Long txqueuelenBefore, Long txqueuelenAfter) {
}
