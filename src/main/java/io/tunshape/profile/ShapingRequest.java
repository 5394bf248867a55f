package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;

/**
 * What a user asked for, before it is fitted to a device: from command-line flags or a profile.
 * Null means "derive it". {@code rateText} keeps the words the rate was given in, for messages.
 */
public record ShapingRequest(String qdisc, Rate rate, String rateText, Rate ceil, Size burst, Size limit,
                             Duration latency, Mode mode, int senders, int overhead, int mpu, Long txqueuelen) {
}
