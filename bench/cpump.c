// The limit row of bench/pump-throughput.sh: a tun <-> UDP pump of the same design as tunshape's
// udp backend, in C, so that "how fast can a pump of this design go on this machine" is measured
// in the same run. Same design means: one thread per direction; tun is non-blocking and read until
// its ring is empty (at most 64 frames a batch); a run of equal-sized frames (the last may be
// shorter) goes out as one sendmsg with UDP_SEGMENT; the socket asks for UDP_GRO and cuts what it
// receives at the segment size, one write to tun per frame. No emulation, no measurement.
//
// Build: gcc -O2 -pthread -o cpump cpump.c
// Usage: cpump TUN-NAME LOCAL-IPV4 PORT PEER-IPV4 PORT     (creates TUN-NAME; it goes with the process)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#define MAX_FRAMES 64
#define MAX_FRAME 65536
#define MAX_GSO_BYTES 65507

static int tun, sock, maxseg;

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void send_run(struct iovec *iov, int n, int seg) {
    char control[CMSG_SPACE(sizeof(uint16_t))] = {0};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n};
    if (n > 1) {
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        *(uint16_t *) CMSG_DATA(c) = (uint16_t) seg;
    }
    while (sendmsg(sock, &m, 0) < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNREFUSED) return; // the peer is not up yet: the run is lost, as on a link
        die("sendmsg");
    }
}

static void *tun_to_udp(void *unused) {
    (void) unused;
    static char buf[MAX_FRAMES * 2048 + MAX_FRAME];
    struct iovec iov[MAX_FRAMES];
    struct pollfd p = {.fd = tun, .events = POLLIN};
    for (;;) {
        int count = 0;
        size_t used = 0;
        while (count < MAX_FRAMES && sizeof buf - used >= MAX_FRAME) {
            ssize_t r = read(tun, buf + used, MAX_FRAME);
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                die("read tun");
            }
            iov[count].iov_base = buf + used;
            iov[count].iov_len = (size_t) r;
            count++;
            used += ((size_t) r + 63) & ~(size_t) 63;
        }
        if (count == 0) {
            if (poll(&p, 1, -1) < 0 && errno != EINTR) die("poll");
            continue;
        }
        int i = 0;
        while (i < count) {
            size_t seg = iov[i].iov_len, bytes = seg;
            int j = i + 1;
            if ((int) seg <= maxseg) {
                while (j < count && j - i < 64 && bytes + iov[j].iov_len <= MAX_GSO_BYTES && iov[j].iov_len <= seg) {
                    bytes += iov[j].iov_len;
                    j++;
                    if (iov[j - 1].iov_len < seg) break;
                }
            }
            send_run(iov + i, j - i, (int) seg);
            i = j;
        }
    }
    return NULL;
}

static void *udp_to_tun(void *unused) {
    (void) unused;
    static char buf[MAX_GSO_BYTES + 65536];
    char control[64];
    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        ssize_t r = recvmsg(sock, &m, 0);
        if (r < 0) {
            if (errno == EINTR || errno == ECONNREFUSED) continue;
            die("recvmsg");
        }
        int seg = (int) r;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) seg = *(int *) CMSG_DATA(c);
        }
        for (ssize_t off = 0; off < r; off += seg) {
            size_t len = (size_t) (r - off < seg ? r - off : seg);
            if (write(tun, buf + off, len) < 0 && errno != EINVAL && errno != EIO && errno != EAGAIN) die("write tun");
        }
    }
    return NULL;
}

static struct sockaddr_in addr(const char *ip, const char *port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(port))};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        fprintf(stderr, "cpump: bad IPv4 address %s\n", ip);
        exit(2);
    }
    return a;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: cpump TUN-NAME LOCAL-IPV4 PORT PEER-IPV4 PORT\n");
        return 2;
    }
    tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (tun < 0) die("open /dev/net/tun");
    struct ifreq ifr = {0};
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (ioctl(tun, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) die("socket");
    int one = 1, buf = 1 << 21, mtu = 0;
    socklen_t len = sizeof mtu;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    struct sockaddr_in local = addr(argv[2], argv[3]), peer = addr(argv[4], argv[5]);
    if (bind(sock, (struct sockaddr *) &local, sizeof local) < 0) die("bind");
    if (connect(sock, (struct sockaddr *) &peer, sizeof peer) < 0) die("connect");
    if (setsockopt(sock, SOL_UDP, UDP_GRO, &one, sizeof one) < 0) perror("UDP_GRO (going on without)");
    if (getsockopt(sock, IPPROTO_IP, IP_MTU, &mtu, &len) < 0) die("IP_MTU");
    maxseg = mtu - 28;
    pthread_t t;
    if (pthread_create(&t, NULL, udp_to_tun, NULL) != 0) die("pthread_create");
    tun_to_udp(NULL);
    return 0;
}
