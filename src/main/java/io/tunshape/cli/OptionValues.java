package io.tunshape.cli;

import io.tunshape.profile.PlanException;

import java.util.function.Function;

/** Option values in tc's units, with errors that name the option (exit 2). */
final class OptionValues {
    private OptionValues() {
    }

    /** Parses {@code text} (null stays null); a refusal becomes an error naming {@code option}. */
    static <T> T parse(String option, String text, Function<String, T> parse) {
        if (text == null) {
            return null;
        }
        try {
            return parse.apply(text);
        } catch (IllegalArgumentException e) {
            throw new PlanException(option, e.getMessage());
        }
    }
}
