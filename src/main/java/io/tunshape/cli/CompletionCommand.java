package io.tunshape.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

import java.util.concurrent.Callable;

public final class CompletionCommand implements Callable<Integer> {
    CommandSpec spec;

    String shell;

    @Override
    public Integer call() {
        if (!"bash".equals(shell)) {
            throw new io.tunshape.profile.PlanException("SHELL", "'" + shell + "' is not supported; accepted: bash");
        }
        CommandLine root = spec.commandLine();
        while (root.getParent() != null) {
            root = root.getParent();
        }
        spec.commandLine().getOut().print(script(root));
        spec.commandLine().getOut().flush();
        return ExitCodes.OK;
    }

    /** Shell functions that list profile names, tun/tap devices and namespaces at completion time. */
    static final String HELPERS = """
            # tunshape: values completed from this machine, not from the JVM (no start-up cost per tab)
            function _tunshape_profiles() {
              local IFS=$' \t\n' dirs d f
              if [[ -n "${TUNSHAPE_PROFILE_PATH}" ]]; then dirs="${TUNSHAPE_PROFILE_PATH//:/ }"
              else dirs="./profiles ${XDG_CONFIG_HOME:-$HOME/.config}/tunshape/profiles /etc/tunshape/profiles /usr/share/tunshape/profiles"
              fi
              for d in $dirs; do
                for f in "$d"/*.yaml "$d"/*.yml; do [[ -e "$f" ]] && f="${f##*/}" && echo "${f%.y*ml}"; done
              done
            }
            function _tunshape_devices() {
              local d
              for d in /sys/class/net/*; do [[ -e "$d/tun_flags" ]] && echo "${d##*/}"; done
            }
            function _tunshape_netns() {
              local n
              for n in /var/run/netns/*; do [[ -e "$n" ]] && echo "${n##*/}"; done
            }
            """;

    static String script(CommandLine root) {
        String s = AutoComplete.bash("tunshape", root);
        // values picocli cannot know: profile names, devices, namespaces
        s = s.replace("'-p'|'--profile')\n      return\n",
                "'-p'|'--profile')\n      local IFS=$'\\n'\n"
                        + "      COMPREPLY=( $(compgen -W \"$(_tunshape_profiles)\" -- \"${curr_word}\") )\n      return\n");
        s = s.replace("'--netns')\n      return\n",
                "'--netns')\n      local IFS=$'\\n'\n"
                        + "      COMPREPLY=( $(compgen -W \"$(_tunshape_netns)\" -- \"${curr_word}\") )\n      return\n");
        s = positionals(s, "apply", "$(_tunshape_devices)");
        s = positionals(s, "show", "$(_tunshape_devices)");
        s = positionals(s, "clear", "$(_tunshape_devices)");
        s = positionals(s, "profiles_show", "$(_tunshape_profiles)");
        int at = s.indexOf("\nfunction ");
        return s.substring(0, at + 1) + HELPERS + s.substring(at + 1);
    }

    private static String positionals(String s, String fn, String values) {
        String head = "function _picocli_tunshape_" + fn + "() {";
        int f = s.indexOf(head);
        if (f < 0) {
            throw new IllegalStateException("no completion function for " + fn);
        }
        int p = s.indexOf("local positionals=\"\"", f);
        return s.substring(0, p) + "local positionals=\"" + values + "\"" + s.substring(p + "local positionals=\"\"".length());
    }

    /** This command's model (no annotations: Specs), bound to {@code c}. */
    static CommandSpec spec(CompletionCommand c) {
        CommandSpec s = Specs.command(c, "completion", "Print a shell completion script.",
                "bash only: 'source <(tunshape completion bash)', or install it as "
                + "/usr/share/bash-completion/completions/tunshape. It completes commands, options, profile names "
                + "(from the profile path), tun/tap device names and namespace names.");
        c.spec = s;
        s.addPositional(Specs.positional(c, "shell", null).paramLabel("SHELL")
                .description("bash").build());
        return s;
    }
}
