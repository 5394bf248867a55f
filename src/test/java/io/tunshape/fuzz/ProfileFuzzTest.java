package io.tunshape.fuzz;

import io.tunshape.daemon.DaemonConfig;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ProfileException;
import io.tunshape.profile.ProfileLoader;
import io.tunshape.tc.Psched;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

import java.util.List;

/**
 * Profiles and daemon configurations on any bytes, seeded with the shipped profiles, the bad
 * profiles of the tests and the example configuration: the one documented exception is
 * ProfileException (file, line, column, what is wrong), and a profile that loads also plans on a
 * tun and a tap device (ProfileLoader.parse plans both).
 */
class ProfileFuzzTest {
    private static final ProfileLoader LOADER = new ProfileLoader(List.of(),
            new Planner(Psched.DEFAULT, 212_992));

    static List<byte[]> profileSeeds() {
        return TextMutate.files("profiles", "src/test/resources/bad-profiles");
    }

    static List<byte[]> configSeeds() {
        return TextMutate.files("examples/systemd/tunshape.yaml", "src/test/resources/fuzz/configs");
    }

    /** The profile invariant on one input (shared by this property, the long run's loop and Jazzer). */
    static void checkProfile(byte[] in) {
        Fuzz.check("profile", in, 2000, 16 << 20, () -> LOADER.parse(in, "fuzz.yaml", null), ProfileException.class);
    }

    /** The daemon configuration invariant on one input. */
    static void checkConfig(byte[] in) {
        Fuzz.check("daemon-config", in, 2000, 16 << 20, () -> DaemonConfig.parse(in, "fuzz.yaml"),
                ProfileException.class);
    }

    @Provide
    Arbitrary<byte[]> profiles() {
        return TextMutate.from(profileSeeds());
    }

    @Provide
    Arbitrary<byte[]> configs() {
        return TextMutate.from(configSeeds());
    }

    @Property
    void profilesLoadOrThrowOnlyProfileException(@ForAll("profiles") byte[] in) {
        checkProfile(in);
    }

    @Property
    void daemonConfigurationsLoadOrThrowOnlyProfileException(@ForAll("configs") byte[] in) {
        checkConfig(in);
    }

    @AfterContainer
    static void summary() {
        System.out.println("fuzz: inputs tried " + Fuzz.summary());
    }

    /**
     * Found while fuzzing the profile reader: a file whose last byte was not UTF-8 was located by
     * decoding ever longer prefixes, 12.3 s for 250 KB (a reload or a validate stalled that long);
     * one pass now (11 ms). The time bound is a hang guard, 400 times what it takes.
     */
    @net.jqwik.api.Example
    void aBadByteAtTheEndOfTheLargestFileIsFoundInOnePass() {
        byte[] b = new byte[250_000];
        java.util.Arrays.fill(b, (byte) 'a');
        b[b.length - 1] = (byte) 0xFF;
        ProfileException e = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
                java.time.Duration.ofSeconds(5), () -> org.junit.jupiter.api.Assertions.assertThrows(
                        ProfileException.class, () -> io.tunshape.profile.YamlReader.read(b, "big.yaml")));
        if (!e.getMessage().contains("big.yaml:1:250000: byte 0xff is not UTF-8")) {
            throw new AssertionError(e.getMessage());
        }
    }
}
