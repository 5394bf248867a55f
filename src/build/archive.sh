#!/bin/sh
# Makes the class-data archive that the launchers map, from a training run of the one-shot commands
# (io.tunshape.cli.Training): on Java 25 and later an AOT cache (JEP 483/514/515: classes loaded and
# linked, method profiles), OUT.aot; before, a static CDS archive, OUT.jsa (a static one, not the
# dynamic -XX:ArchiveClassesAtExit, because only a static archive holds picocli's Java 5 class files).
# Run by `mvn package` (target/tunshape.*) and by the Debian package's postinst (/var/cache/tunshape).
# Usage: archive.sh JAVA JAR OUT PROFILE_DIR. Exit 0 even when no archive could be made (the launchers
# then run without one); what happened goes to stderr.
set -u
java=$1 jar=$2 out=$3 profiles=$4
# the launchers' one-shot JVM options (bin/tunshape, src/deb/tunshape): an archive is recorded with
# the options it is used with
opts="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -Xmx32m -Xss256k"
opts="$opts -XX:ReservedCodeCacheSize=12m -XX:MaxMetaspaceSize=48m"
opts="$opts -XX:-UsePerfData -XX:+UnlockDiagnosticVMOptions -XX:AsyncDeflationInterval=5000 -XX:GuaranteedSafepointInterval=0"
home=$(dirname "$(dirname "$(readlink -f "$(command -v "$java")")")")
major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release" 2>/dev/null)
tmp=$(mktemp -d) || exit 0
trap 'rm -rf "$tmp"' EXIT
# the training: apply, show and clear for real on a tun device in a network namespace of its own
# (gone when the run ends) where that is allowed (root), otherwise with --dry-run on no device
train() { # $@: JVM options for the training run (its namespace lock files go into the temporary directory)
    export TUNSHAPE_LOCK_DIR="$tmp/lock"
    if unshare -n sh -c 'ip tuntap add dev tstrain0 mode tun && ip link set tstrain0 up' 2>/dev/null; then
        TUNSHAPE_PROFILE_PATH=$profiles unshare -n sh -c 'ip tuntap add dev tstrain0 mode tun \
            && ip link set tstrain0 up && exec "$@" tstrain0' sh "$java" $opts "$@" -cp "$jar" io.tunshape.cli.Training
    else
        TUNSHAPE_PROFILE_PATH=$profiles "$java" $opts "$@" -cp "$jar" io.tunshape.cli.Training
    fi
}
if [ "${major:-0}" -ge 25 ]; then
    rm -f "$out.aot"
    if train -XX:AOTCacheOutput="$out.aot" -Xlog:aot=error -Xlog:cds=off >"$tmp/log" 2>&1 && [ -s "$out.aot" ]; then
        echo "archive.sh: $out.aot: AOT cache for Java $major" >&2
    else
        echo "archive.sh: no AOT cache made for $java:" >&2; tail -5 "$tmp/log" >&2; rm -f "$out.aot"
    fi
    exit 0
fi
rm -f "$out.jsa" "$out.classlist"
if train -XX:DumpLoadedClassList="$out.classlist" >"$tmp/log" 2>&1 && [ -s "$out.classlist" ] \
        && "$java" -Xshare:dump -XX:SharedClassListFile="$out.classlist" -XX:SharedArchiveFile="$out.jsa" \
            -cp "$jar" >"$tmp/log" 2>&1; then
    echo "archive.sh: $out.jsa: static CDS archive for Java ${major:-?}" >&2
else
    echo "archive.sh: no CDS archive made for $java:" >&2; tail -5 "$tmp/log" >&2; rm -f "$out.jsa"
fi
exit 0
