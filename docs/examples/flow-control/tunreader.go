// A tun driver that asks for the kernel's flow control (IFF_BACKPRESSURE, Linux 7.3+) when the
// kernel offers it, and reads frames at a fixed pace, as a slow link would take them. Standard
// library only (syscall, no modules).
//
//	go build -o tunreader tunreader.go
//	tunreader DEV BITS_PER_SECOND SECONDS [off]
//
// Creates DEV (or attaches to it, when it exists and is persistent), reads for SECONDS, and prints
// how many frames it read. "off" leaves the flag off even where it is offered, to compare.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

const (
	tunSetIff       = 0x400454CA // _IOW('T', 202, int)
	tunGetFeatures  = 0x800454CF // _IOR('T', 207, unsigned int)
	iffTun          = 0x0001
	iffNoPi         = 0x1000
	iffBackpressure = 0x0080 // include/uapi/linux/if_tun.h from Linux 7.3
)

// struct ifreq as TUNSETIFF reads it: the name, the flags, and the union's rest (40 bytes on 64-bit).
type ifreq struct {
	name  [16]byte
	flags uint16
	_     [22]byte
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

func main() {
	if len(os.Args) < 4 || len(os.Args) > 5 || len(os.Args[1]) >= 16 {
		fmt.Fprintln(os.Stderr, "usage: tunreader DEV BITS_PER_SECOND SECONDS [off]")
		os.Exit(2)
	}
	rate, err1 := strconv.ParseFloat(os.Args[2], 64)
	seconds, err2 := strconv.ParseFloat(os.Args[3], 64)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "tunreader: BITS_PER_SECOND and SECONDS are numbers")
		os.Exit(2)
	}
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "/dev/net/tun:", err)
		os.Exit(1)
	}
	var features uint32 // stays 0 before 2.6.27, which has no TUNGETFEATURES
	_ = ioctl(fd, tunGetFeatures, unsafe.Pointer(&features))
	req := ifreq{flags: iffTun | iffNoPi}
	copy(req.name[:], os.Args[1])
	switch {
	case features&iffBackpressure == 0:
		fmt.Printf("tun-reader: kernel flow control off: IFF_BACKPRESSURE not offered "+
			"(TUNGETFEATURES 0x%04x; Linux 7.3+ has it); going on without it\n", features)
	case len(os.Args) == 5 && os.Args[4] == "off":
		fmt.Printf("tun-reader: kernel flow control off: offered (TUNGETFEATURES 0x%04x), not asked for\n", features)
	default:
		req.flags |= iffBackpressure
		fmt.Printf("tun-reader: kernel flow control on: IFF_BACKPRESSURE (TUNGETFEATURES 0x%04x)\n", features)
	}
	if err := ioctl(fd, tunSetIff, unsafe.Pointer(&req)); err != nil {
		fmt.Fprintln(os.Stderr, "TUNSETIFF:", err)
		os.Exit(1)
	}
	n := 0
	for n < len(req.name) && req.name[n] != 0 {
		n++
	}
	fmt.Printf("tun-reader: %s attached with flags 0x%04x, reading at %.0f bit/s for %.0f s\n",
		req.name[:n], req.flags, rate, seconds)

	// non-blocking, so that Go's poller serves the reads and a deadline bounds them
	syscall.SetNonblock(fd, true)
	tun := os.NewFile(uintptr(fd), "/dev/net/tun")
	frame := make([]byte, 65536)
	frames, size := 0, 0
	start := time.Now()
	end := start.Add(time.Duration(seconds * float64(time.Second)))
	if err := tun.SetReadDeadline(end); err != nil { // the bound on time needs the poller
		fmt.Fprintln(os.Stderr, "tunreader:", err)
		os.Exit(1)
	}
	for {
		got, err := tun.Read(frame)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "read:", err)
			os.Exit(1)
		}
		frames++
		size += got
		// the "link" sends this frame before the next is taken
		freeAt := time.Now().Add(time.Duration(float64(got) * 8 / rate * float64(time.Second)))
		if freeAt.After(end) {
			break
		}
		time.Sleep(time.Until(freeAt))
	}
	fmt.Printf("tun-reader: read %d frames, %d bytes in %.1f s\n", frames, size, time.Since(start).Seconds())
	tun.Close()
}
