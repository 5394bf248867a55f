package io.tunshape.daemon;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** A container's name from where its runtime keeps it: Docker's state, containers/storage's list (Podman, CRI-O). */
class ContainerNameTest {
    private static final String DOCKER = "3f2a".repeat(16);
    private static final String PODMAN = "9b1c".repeat(16);
    private static final String VOLATILE = "77e0".repeat(16);

    @Test
    void dockerPodmanAndVolatileContainersAreNamed(@TempDir Path dir) throws Exception {
        Path docker = dir.resolve("docker");
        Files.createDirectories(docker.resolve(DOCKER));
        Files.writeString(docker.resolve(DOCKER).resolve("config.v2.json"),
                "{\"State\":{\"Running\":true},\"ID\":\"" + DOCKER + "\",\"Name\":\"/radio-1\",\"Driver\":\"overlay2\"}");
        Path lib = dir.resolve("lib");
        Files.createDirectories(lib.resolve("overlay-containers"));
        // as containers/storage writes it: metadata is a JSON document in a string, names a list
        Files.writeString(lib.resolve("overlay-containers").resolve("containers.json"), "[{\"id\":\"" + "aaaa".repeat(16)
                + "\",\"names\":[\"other\"],\"image\":\"x\",\"layer\":\"y\",\"metadata\":\"{\\\"names\\\":[\\\"decoy\\\"]}\"},"
                + "{\"id\":\"" + PODMAN + "\",\"names\":[\"modem-n3\",\"alias\"],\"image\":\"e1\",\"layer\":\"l1\","
                + "\"metadata\":\"{\\\"image-name\\\":\\\"docker.io/library/alpine:latest\\\"}\",\"created\":\"2026-12-01T03:00:00Z\","
                + "\"flags\":{\"MountLabel\":\"\"}}]");
        Path run = dir.resolve("run");
        Files.createDirectories(run.resolve("overlay-containers"));
        Files.writeString(run.resolve("overlay-containers").resolve("volatile-containers.json"),
                "[{\"id\":\"" + VOLATILE + "\",\"names\":[\"scratch\"]}]");
        List<Path> roots = List.of(lib, run);
        assertEquals("radio-1", NsFacts.containerName(DOCKER, docker, roots));
        assertEquals("modem-n3", NsFacts.containerName(PODMAN, docker, roots));
        assertEquals("scratch", NsFacts.containerName(VOLATILE, docker, roots));
        assertNull(NsFacts.containerName("0000".repeat(16), docker, roots), "an id no runtime knows has no name");
    }

    @Test
    void aListThatIsNotWhatWeKnowGivesNoName(@TempDir Path dir) throws Exception {
        Path lib = dir.resolve("lib");
        Files.createDirectories(lib.resolve("vfs-containers"));
        Files.writeString(lib.resolve("vfs-containers").resolve("containers.json"), "{\"id\":\"" + PODMAN + "\"} trailing [");
        assertNull(NsFacts.containerName(PODMAN, dir.resolve("none"), List.of(lib, dir.resolve("missing"))));
        Files.writeString(lib.resolve("vfs-containers").resolve("containers.json"), "[{\"id\":\"" + PODMAN + "\",\"names\":");
        assertNull(NsFacts.containerName(PODMAN, dir.resolve("none"), List.of(lib)), "cut short: no name, no exception");
    }
}
