// The limit row of bench/pump-throughput.sh: a tun <-> UDP pump of the same design as tunshape's
// udp backend, in C, so that "how fast can a pump of this design go on this machine" is measured
// in the same run. Same design means: one thread per direction; tun is non-blocking and read until
// its ring is empty (at most 64 frames a batch); a run of equal-sized frames (the last may be
// shorter) goes out as one sendmsg with UDP_SEGMENT; the socket asks for UDP_GRO and cuts what it
// receives at the segment size, one write to tun per frame. No emulation, no measurement.
// With "runs" as a sixth argument, as tunshape's pump does on a device with offloads: tun is opened
// with IFF_VNET_HDR and checksum offload (TUN_F_CSUM: the pump completes the checksums that local
// senders leave to the device; no TSO, so TCP comes segment by segment), and a run of received UDP
// datagrams of one flow (Coalescer's rules) is written to tun once, as a VIRTIO_NET_HDR_GSO_UDP_L4
// super-frame that the kernel cuts again (Linux 6.2 and later).
//
// Build: gcc -O2 -pthread -o cpump cpump.c
// Usage: cpump TUN-NAME LOCAL-IPV4 PORT PEER-IPV4 PORT [runs]    (creates TUN-NAME; it goes with the process)
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

static int tun, sock, maxseg, runs;
#define VNET_LEN 10

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

static uint16_t be16(const uint8_t *p) { return (uint16_t) (p[0] << 8 | p[1]); }

static uint16_t fold_sum(uint64_t s) {
    while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t) s;
}

// the ones' complement sum of p[0, n) as big-endian 16-bit words, 32 bits at a time
static uint32_t sum_bytes(const uint8_t *p, size_t n, uint32_t start) {
    uint64_t s = start;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) s += (uint32_t) p[i] << 24 | (uint32_t) p[i + 1] << 16 | (uint32_t) p[i + 2] << 8 | p[i + 3];
    for (; i + 1 < n; i += 2) s += be16(p + i);
    if (i < n) s += (uint32_t) p[i] << 8;
    return fold_sum(s);
}

// A packet whose checksum the sender left to the device (VIRTIO_NET_HDR_F_NEEDS_CSUM): the sum from
// csum_start to the end (the field holds the pseudo-header's sum) at csum_start + csum_offset.
static int complete_csum(uint8_t *f, size_t n) {
    uint16_t start, offset;
    memcpy(&start, f + 6, 2);
    memcpy(&offset, f + 8, 2);
    if (!(f[0] & 1)) return 1;
    if (f[1] != 0 || (size_t) start + offset + 2 > n - 10) return 0; // no GSO asked for
    uint8_t *p = f + 10;
    uint16_t c = (uint16_t) ~fold_sum(sum_bytes(p + start, n - 10 - start, 0));
    if (c == 0) c = 0xFFFF;
    p[start + offset] = (uint8_t) (c >> 8);
    p[start + offset + 1] = (uint8_t) c;
    return 1;
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
            int skip = runs ? VNET_LEN : 0;
            if (r <= skip || (runs && !complete_csum((uint8_t *) buf + used, (size_t) r))) continue;
            iov[count].iov_base = buf + used + skip;
            iov[count].iov_len = (size_t) (r - skip);
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


// IP and UDP headers' length (28 or 48) of a datagram that may join a run, else -1 (Coalescer.udpHeaders)
static int udp_headers(const uint8_t *p, size_t len) {
    int ip;
    if (p[0] == 0x45) {
        if (len <= 28 || p[9] != 17 || be16(p + 2) != len || (be16(p + 6) & 0x3FFF) != 0) return -1;
        ip = 20;
    } else if ((p[0] & 0xF0) == 0x60) {
        if (len <= 48 || p[6] != 17 || be16(p + 4) + 40u != len) return -1;
        ip = 40;
    } else {
        return -1;
    }
    return be16(p + ip + 4) == len - (size_t) ip && be16(p + ip + 6) != 0 ? ip + 8 : -1;
}

static int same_ip(const uint8_t *p, const uint8_t *q, int v6) {
    if (v6) return memcmp(p, q, 4) == 0 && memcmp(p + 6, q + 6, 34) == 0;
    return memcmp(p, q, 2) == 0 && memcmp(p + 6, q + 6, 4) == 0 && memcmp(p + 12, q + 12, 8) == 0;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t) (v >> 8); p[1] = (uint8_t) v; }

// The frames of one received buffer (cut at seg) to tun: a run of datagrams of one flow as one
// UDP_L4 super-frame, anything else one frame a write; each write starts with a virtio_net_hdr.
static void write_runs(uint8_t *buf, ssize_t r, int seg) {
    static const uint8_t zero[VNET_LEN];
    uint8_t head[VNET_LEN + 48];
    struct iovec iov[65];
    ssize_t off = 0;
    while (off < r) {
        size_t len0 = (size_t) (r - off < seg ? r - off : seg);
        uint8_t *p = buf + off;
        int hdrs = udp_headers(p, len0), n = 1;
        size_t total = len0;
        if (hdrs > 0) {
            int v6 = hdrs == 48;
            size_t first = len0 - (size_t) hdrs;
            for (ssize_t o = off + (ssize_t) len0; o < r && n < 64; o += seg) {
                size_t len = (size_t) (r - o < seg ? r - o : seg);
                uint8_t *q = buf + o;
                if (udp_headers(q, len) != hdrs || len - (size_t) hdrs > first || total + len - (size_t) hdrs > 65535
                        || !same_ip(p, q, v6) || memcmp(p + hdrs - 8, q + hdrs - 8, 4) != 0) break;
                if (!v6 && be16(q + 4) != (uint16_t) (be16(p + 4) + n)) break;
                total += len - (size_t) hdrs;
                n++;
                if (len - (size_t) hdrs < first) break;
            }
        }
        int iovs;
        if (n == 1) {
            iov[0] = (struct iovec){(void *) zero, VNET_LEN};
            iov[1] = (struct iovec){p, len0};
            iovs = 2;
        } else {
            int v6 = hdrs == 48, ip = v6 ? 40 : 20;
            memset(head, 0, VNET_LEN);
            uint16_t gso = (uint16_t) (len0 - (size_t) hdrs), hl = (uint16_t) hdrs, cs = (uint16_t) ip, co = 6;
            head[0] = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
            head[1] = 5;  // VIRTIO_NET_HDR_GSO_UDP_L4; the rest in the host's order
            memcpy(head + 2, &hl, 2);
            memcpy(head + 4, &gso, 2);
            memcpy(head + 6, &cs, 2);
            memcpy(head + 8, &co, 2);
            uint8_t *h = head + VNET_LEN;
            memcpy(h, p, (size_t) hdrs);
            if (v6) {
                put16(h + 4, (uint16_t) (total - 40));
            } else {
                put16(h + 2, (uint16_t) total);
                put16(h + 10, 0);
                put16(h + 10, (uint16_t) ~fold_sum(sum_bytes(h, 20, 0)));
            }
            put16(h + ip + 4, (uint16_t) (total - (size_t) ip));
            uint32_t ps = v6 ? sum_bytes(h + 8, 32, 0) : sum_bytes(h + 12, 8, 0);
            put16(h + ip + 6, fold_sum((uint64_t) ps + 17 + (total - (size_t) ip)));
            iov[0] = (struct iovec){head, VNET_LEN + (size_t) hdrs};
            ssize_t o = off;
            for (int k = 0; k < n; k++, o += seg) {
                size_t len = (size_t) (r - o < seg ? r - o : seg);
                iov[k + 1] = (struct iovec){buf + o + hdrs, len - (size_t) hdrs};
            }
            iovs = n + 1;
        }
        if (writev(tun, iov, iovs) < 0 && errno != EINVAL && errno != EIO && errno != EAGAIN) die("writev tun");
        off += (ssize_t) seg * n;
    }
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
        if (runs) {
            write_runs((uint8_t *) buf, r, seg);
            continue;
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
    if (argc != 6 && !(argc == 7 && strcmp(argv[6], "runs") == 0)) {
        fprintf(stderr, "usage: cpump TUN-NAME LOCAL-IPV4 PORT PEER-IPV4 PORT [runs]\n");
        return 2;
    }
    runs = argc == 7;
    tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (tun < 0) die("open /dev/net/tun");
    struct ifreq ifr = {0};
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (runs ? IFF_VNET_HDR : 0);
    if (ioctl(tun, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    if (runs && ioctl(tun, TUNSETOFFLOAD, TUN_F_CSUM) < 0) die("TUNSETOFFLOAD");
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
