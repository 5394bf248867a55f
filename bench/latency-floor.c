/*
 * The floor under bench/daemon-latency.sh's figure: what a reader written in C, with nothing else to
 * do, takes from a report's arrival to the kernel's ack of the same change. It waits in recvmsg on a
 * datagram socket (SO_TIMESTAMPNS: the kernel stamps each arrival, as on the daemon's report socket),
 * and for each 1-byte "report" (from a child at nice 19, GAP ms apart) sends one netlink datagram
 * holding tc's own bytes for the htb class change and the bfifo leaf change (captured from
 * `tc -batch`, two rates taken in turn), with one ACK asked on the last, and waits for that ACK.
 * Prints arrival->ack and recvmsg-return->ack, p50/p99/max in microseconds.
 * Usage (inside the device's namespace): latency-floor N GAP_MS MESSAGES
 * MESSAGES: four netlink messages back to back: class change A, leaf change A, class B, leaf B.
 */
#define _GNU_SOURCE
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    long x = *(const long *) a, y = *(const long *) b;
    return x < y ? -1 : x > y;
}

static long nanos(struct timespec a, struct timespec b) {
    return (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
}

static void print(const char *what, long *d, int n) {
    qsort(d, n, sizeof(long), cmp);
    printf("%s: p50 %.0f us, p99 %.0f us, max %.0f us\n", what, d[n / 2] / 1e3, d[n - n / 100 - 1] / 1e3, d[n - 1] / 1e3);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s N GAP_MS MESSAGES\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]), gap = atoi(argv[2]);
    static unsigned char all[16384];
    FILE *f = fopen(argv[3], "rb");
    size_t len = f ? fread(all, 1, sizeof all, f) : 0;
    /* split into the four messages by nlmsg_len; a pair (class, leaf) is one datagram */
    size_t at[5] = {0};
    for (int i = 0; i < 4; i++) {
        if (at[i] + sizeof(struct nlmsghdr) > len) {
            fprintf(stderr, "%s: four netlink messages expected\n", argv[3]);
            return 2;
        }
        at[i + 1] = at[i] + NLMSG_ALIGN(((struct nlmsghdr *) (all + at[i]))->nlmsg_len);
    }
    for (int i = 0; i < 4; i++) {
        ((struct nlmsghdr *) (all + at[i]))->nlmsg_flags = NLM_F_REQUEST | (i % 2 ? NLM_F_ACK : 0);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)) {
        perror("socketpair");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        setpriority(PRIO_PROCESS, 0, 19);
        struct timespec ts = {gap / 1000, (gap % 1000) * 1000000L};
        for (int i = 0; i < n; i++) {
            nanosleep(&ts, NULL);
            send(sv[1], "x", 1, 0);
        }
        _exit(0);
    }
    int on = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (nl < 0 || bind(nl, (struct sockaddr *) &sa, sizeof sa)) {
        perror("netlink");
        return 1;
    }
    long *arrival = malloc(sizeof(long) * n), *own = malloc(sizeof(long) * n);
    unsigned seq = 1;
    static char ack[8192];
    for (int i = 0; i < n; i++) {
        char b[16], c[256];
        struct iovec io = {b, sizeof b};
        struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = c, .msg_controllen = sizeof c};
        if (recvmsg(sv[0], &m, 0) < 0) {
            perror("recvmsg");
            return 1;
        }
        struct timespec got, stamp, done;
        clock_gettime(CLOCK_REALTIME, &got);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        if (cm == NULL || cm->cmsg_type != SCM_TIMESTAMPNS) {
            fprintf(stderr, "no arrival stamp\n");
            return 1;
        }
        memcpy(&stamp, CMSG_DATA(cm), sizeof stamp);
        unsigned char *pair = all + at[2 * (i % 2)];
        size_t size = at[2 * (i % 2) + 2] - at[2 * (i % 2)];
        ((struct nlmsghdr *) pair)->nlmsg_seq = seq++;
        ((struct nlmsghdr *) (all + at[2 * (i % 2) + 1]))->nlmsg_seq = seq++;
        if (send(nl, pair, size, 0) != (ssize_t) size) {
            perror("send");
            return 1;
        }
        for (;;) {
            int k = recv(nl, ack, sizeof ack, 0);
            struct nlmsghdr *h = (struct nlmsghdr *) ack;
            if (k <= 0) {
                perror("recv");
                return 1;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                int e = *(int *) NLMSG_DATA(h);
                if (e) {
                    fprintf(stderr, "the kernel refused the change: %s\n", strerror(-e));
                    return 1;
                }
                if (h->nlmsg_seq == seq - 1) {
                    break;
                }
            }
        }
        clock_gettime(CLOCK_REALTIME, &done);
        arrival[i] = nanos(stamp, done);
        own[i] = nanos(got, done);
    }
    waitpid(child, NULL, 0);
    print("from arrival", arrival, n);
    print("from recvmsg returning", own, n);
    return 0;
}
