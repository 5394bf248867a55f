package io.tunshape.profile;

import io.tunshape.tc.QdiscSpec;

import java.util.List;

/** The kernel model for one device, with the plain-words explanation and warnings every plan carries. */
public record Plan(QdiscSpec qdisc, Long txqueuelen, List<String> explanation, List<String> warnings) {
    public Plan {
        explanation = List.copyOf(explanation);
        warnings = List.copyOf(warnings);
    }
}
