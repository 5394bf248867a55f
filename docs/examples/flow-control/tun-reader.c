/*
 * A tun driver that asks for the kernel's flow control (IFF_BACKPRESSURE, Linux 7.3+) when the
 * kernel offers it, and reads frames at a fixed pace, as a slow link would take them.
 *
 *     gcc -O2 -Wall -o tun-reader tun-reader.c
 *     tun-reader DEV BITS_PER_SECOND SECONDS [off]
 *
 * Creates DEV (or attaches to it, when it exists and is persistent), reads for SECONDS, and prints
 * how many frames it read. "off" leaves the flag off even where it is offered, to compare.
 * tunshape's docs/tunnels.md, radio.md and emulators.md explain what the flag changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#ifndef IFF_BACKPRESSURE
#define IFF_BACKPRESSURE 0x0080 /* include/uapi/linux/if_tun.h from Linux 7.3 */
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5 || strlen(argv[1]) >= IFNAMSIZ) {
        fprintf(stderr, "usage: %s DEV BITS_PER_SECOND SECONDS [off]\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("/dev/net/tun"); return 1; }

    unsigned int features = 0;
    if (ioctl(fd, TUNGETFEATURES, &features) < 0) features = 0;   /* before 2.6.27: none */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (!(features & IFF_BACKPRESSURE))
        printf("tun-reader: kernel flow control off: IFF_BACKPRESSURE not offered "
               "(TUNGETFEATURES 0x%04x; Linux 7.3+ has it); going on without it\n", features);
    else if (argc == 5 && strcmp(argv[4], "off") == 0)
        printf("tun-reader: kernel flow control off: offered (TUNGETFEATURES 0x%04x), not asked for\n", features);
    else {
        ifr.ifr_flags |= IFF_BACKPRESSURE;
        printf("tun-reader: kernel flow control on: IFF_BACKPRESSURE (TUNGETFEATURES 0x%04x)\n", features);
    }
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
    printf("tun-reader: %s attached with flags 0x%04x, reading at %.0f bit/s for %.0f s\n",
           ifr.ifr_name, (unsigned short) ifr.ifr_flags, rate, seconds);
    fflush(stdout);

    char frame[65536];
    long frames = 0, bytes = 0;
    double start = now(), end = start + seconds, free_at = start;
    for (;;) {
        double t = now();
        if (free_at > t) {          /* the "link" is still sending the last frame */
            if (free_at >= end) break;
            struct timespec d = { (time_t) (free_at - t), (long) ((free_at - t - (time_t) (free_at - t)) * 1e9) };
            nanosleep(&d, NULL);
            continue;
        }
        if (t >= end) break;
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll(&p, 1, (int) ((end - t) * 1000) + 1);
        if (r < 0 && errno != EINTR) { perror("poll"); return 1; }
        if (r <= 0) continue;
        ssize_t n = read(fd, frame, sizeof frame);
        if (n < 0) { if (errno == EINTR || errno == EAGAIN) continue; perror("read"); return 1; }
        frames++;
        bytes += n;
        free_at = now() + n * 8.0 / rate;
    }
    printf("tun-reader: read %ld frames, %ld bytes in %.1f s\n", frames, bytes, now() - start);
    close(fd);
    return 0;
}
