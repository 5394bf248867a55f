/*
 * bench/damon-tail.sh's reader: the report tail of bench/daemon-latency.sh without the daemon. It
 * holds MB mebibytes of its own memory resident (written once, then never touched again), waits
 * in recvmsg on a datagram socket (SO_TIMESTAMPNS: the kernel stamps each arrival, as on the
 * daemon's report socket) and reads N 1-byte datagrams that a child at nice 19 sends GAP ms apart.
 * For each it prints one line: when recvmsg returned to it (CLOCK_MONOTONIC, ns: the clock the
 * kernel's tracer is set to) and the time from the datagram's arrival to that return (ns). Nothing
 * else happens in it, so a slow reading is the kernel's and the machine's, never this program's.
 * HUGE=1 (environment): the memory asks for transparent huge pages (MADV_HUGEPAGE); a first line
 * "# AnonHugePages: N kB" then says how much of this process's memory the kernel gave that way.
 * A datagram that does not come within GAP * 10 + 1000 ms (the sender failed) ends it with status 1;
 * the sender ends with it (PR_SET_PDEATHSIG).
 * Usage: damon-tail N GAP_MS MB
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>

static pid_t child;

static int fail(const char *what) {
    perror(what);
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    return 1;
}

static long stamp(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s N GAP_MS MB\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]);
    long gap = atol(argv[2]);
    size_t bytes = (size_t) atol(argv[3]) << 20;
    if (n <= 0 || gap < 0 || bytes == 0) {
        fprintf(stderr, "damon-tail: N > 0, GAP_MS >= 0 and MB > 0, not %s %s %s\n", argv[1], argv[2], argv[3]);
        return 2;
    }
    char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        perror("damon-tail: mmap");
        return 1;
    }
    if (getenv("HUGE") && strcmp(getenv("HUGE"), "1") == 0 && madvise(mem, bytes, MADV_HUGEPAGE) != 0) {
        perror("damon-tail: madvise(MADV_HUGEPAGE)");
        return 1;
    }
    memset(mem, 1, bytes); /* resident from here on; never read again */
    int sv[2];
    int on = 1;
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0 || setsockopt(sv[1], SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
        perror("damon-tail: socket");
        return 1;
    }
    struct timeval wait = {(gap * 10 + 1000) / 1000, (gap * 10 + 1000) % 1000 * 1000};
    if (setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) != 0) {
        perror("damon-tail: SO_RCVTIMEO");
        return 1;
    }
    long *at = malloc(n * sizeof(long)), *took = malloc(n * sizeof(long));
    if (at == NULL || took == NULL) {
        perror("damon-tail: malloc");
        return 1;
    }
    pid_t parent = getpid();
    child = fork();
    if (child < 0) {
        perror("damon-tail: fork");
        return 1;
    }
    if (child == 0) { /* the sender: GAP ms apart, at nice 19 as bench/daemon-latency.sh's */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(1);
        }
        munmap(mem, bytes);
        setpriority(PRIO_PROCESS, 0, 19);
        for (int i = 0; i < n; i++) {
            struct timespec ts = {gap / 1000, (gap % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            char c = 1;
            if (send(sv[0], &c, 1, 0) != 1) {
                _exit(1);
            }
        }
        _exit(0);
    }
    for (int i = 0; i < n; i++) {
        char b, ctl[128];
        struct iovec io = {&b, 1};
        struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
        if (recvmsg(sv[1], &m, 0) != 1) {
            return fail("damon-tail: recvmsg (no datagram in time: the sender failed?)");
        }
        long real = stamp(CLOCK_REALTIME), mono = stamp(CLOCK_MONOTONIC), arrival = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec t;
                memcpy(&t, CMSG_DATA(c), sizeof t);
                arrival = t.tv_sec * 1000000000L + t.tv_nsec;
            }
        }
        if (arrival < 0) {
            errno = EPROTO;
            return fail("damon-tail: a datagram without its arrival stamp");
        }
        at[i] = mono;
        took[i] = real - arrival;
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "damon-tail: the sender failed\n");
        return 1;
    }
    if (getenv("HUGE") && strcmp(getenv("HUGE"), "1") == 0) {
        FILE *f = fopen("/proc/self/smaps_rollup", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "AnonHugePages:", 14) == 0) {
                printf("# %s", line);
            }
        }
        if (f) {
            fclose(f);
        }
    }
    for (int i = 0; i < n; i++) {
        printf("%ld %ld\n", at[i], took[i]);
    }
    return 0;
}
