package io.tunshape.profile;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds profiles along the profile path and loads them, validated: YAML, the format, and a plan
 * for a tun and a tap device of the profile's MTU, so that nothing invalid reaches the kernel.
 *
 * <p>The path: {@code $TUNSHAPE_PROFILE_PATH} (colon-separated) when set; otherwise ./profiles,
 * $XDG_CONFIG_HOME/tunshape/profiles (~/.config when unset), /etc/tunshape/profiles,
 * /usr/share/tunshape/profiles, and the profiles/ folder beside the installation.
 */
public final class ProfileLoader {
    private final List<Path> path;
    private final Planner planner;

    public ProfileLoader(List<Path> path, Planner planner) {
        this.path = List.copyOf(path);
        this.planner = planner;
    }

    public static List<Path> defaultPath() {
        String env = System.getenv("TUNSHAPE_PROFILE_PATH");
        List<Path> p = new ArrayList<>();
        if (env != null && !env.isBlank()) {
            for (String s : env.split(":")) {
                if (!s.isBlank()) {
                    p.add(Path.of(s));
                }
            }
            return p;
        }
        p.add(Path.of("profiles"));
        String xdg = System.getenv("XDG_CONFIG_HOME");
        if (xdg == null || xdg.isBlank()) {
            xdg = System.getProperty("user.home") + "/.config";
        }
        p.add(Path.of(xdg, "tunshape", "profiles"));
        p.add(Path.of("/etc/tunshape/profiles"));
        p.add(Path.of("/usr/share/tunshape/profiles"));
        Path installed = installDir();
        if (installed != null) {
            p.add(installed.resolve("profiles"));
        }
        return p;
    }

    /** The folder above the one holding the running jar (the repository, for target/tunshape.jar). */
    private static Path installDir() {
        try {
            Path jar = Path.of(ProfileLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path dir = jar.getParent();
            return dir == null ? null : dir.getParent();
        } catch (Exception e) {
            return null;
        }
    }

    public List<Path> path() {
        return path;
    }

    /** Whether the argument names a file rather than a profile on the path. */
    public static boolean isFile(String nameOrFile) {
        return nameOrFile.contains("/") || nameOrFile.endsWith(".yaml") || nameOrFile.endsWith(".yml");
    }

    /** Loads a profile by name (along the path) or from a file. */
    public Profile load(String nameOrFile) {
        Path file;
        if (isFile(nameOrFile)) {
            file = Path.of(nameOrFile);
        } else {
            file = find(nameOrFile);
        }
        return loadFile(file);
    }

    private Path find(String name) {
        for (Path dir : path) {
            for (String ext : new String[] {".yaml", ".yml"}) {
                Path f = dir.resolve(name + ext);
                if (Files.isRegularFile(f)) {
                    return f;
                }
            }
        }
        String near = Fields.nearest(name, list().keySet());
        StringBuilder where = new StringBuilder();
        for (Path d : path) {
            where.append(where.length() == 0 ? "" : ", ").append(d);
        }
        throw new ProfileException("", 0, 0, "no profile named '" + name + "' on the profile path (" + where + ")"
                + (near != null ? "; did you mean '" + near + "'?" : "; 'tunshape profiles list' shows them"));
    }

    /** Every profile on the path by name (earlier folders win), as files; not yet validated. */
    public Map<String, Path> list() {
        Map<String, Path> out = new LinkedHashMap<>();
        for (Path dir : path) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            List<Path> files = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.{yaml,yml}")) {
                ds.forEach(files::add);
            } catch (IOException e) {
                continue;
            }
            files.sort(null);
            for (Path f : files) {
                out.putIfAbsent(baseName(f), f);
            }
        }
        return out;
    }

    static String baseName(Path f) {
        String n = f.getFileName().toString();
        return n.replaceFirst("\\.ya?ml$", "");
    }

    public Profile loadFile(Path file) {
        String shown = file.toString();
        byte[] bytes;
        try {
            if (Files.isDirectory(file)) {
                throw new ProfileException(shown, 0, 0, "is a directory; a profile is a YAML file");
            }
            long size = Files.size(file);
            if (size > YamlReader.MAX_BYTES) {
                throw new ProfileException(shown, 0, 0, "file is " + size + " bytes; at most " + YamlReader.MAX_BYTES
                        + " are accepted");
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ProfileException(shown, 0, 0, "no such file");
        } catch (IOException e) {
            throw new ProfileException(shown, 0, 0, "cannot read: " + e.getMessage());
        }
        return parse(bytes, shown, baseName(file));
    }

    /** Parses and validates, including a plan for a tun and a tap device of the profile's MTU. */
    public Profile parse(byte[] bytes, String file, String expectedName) {
        YamlNode root = YamlReader.read(bytes, file);
        Profile p = ProfileParser.parse(root, file, expectedName);
        for (int header : new int[] {0, 14}) {
            try {
                planner.plan(p.request(), new Device(header == 0 ? "a tun device" : "a tap device", p.link().mtu(),
                        header, 500));
            } catch (PlanException e) {
                throw at(root, file, e);
            }
        }
        return p;
    }

    /** A planner refusal placed at the profile key it concerns. */
    static ProfileException at(YamlNode root, String file, PlanException e) {
        String key = switch (e.field()) {
            case "rate", "overhead", "mpu" -> "link." + e.field();
            default -> "shaping." + e.field();
        };
        YamlNode n = root;
        YamlNode found = root;
        for (String part : key.split("\\.")) {
            if (n instanceof YamlNode.Mapping m && m.entries().containsKey(part)) {
                n = m.entries().get(part).value();
                found = n;
            } else {
                break;
            }
        }
        String problem = e.getMessage().substring(e.field().length() + 2);
        return new ProfileException(file, found.line(), found.column(), key + ": " + problem);
    }
}
