package desktop

import (
	"context"
	"log/slog"
	"syscall"
	"time"
)

// Multicast groups of a NETLINK_ROUTE socket (linux/rtnetlink.h; package
// syscall does not name them).
const (
	rtmgrpLink       = 0x1
	rtmgrpIPv4IfAddr = 0x10
	rtmgrpIPv4Route  = 0x40
	rtmgrpIPv6IfAddr = 0x100
	rtmgrpIPv6Route  = 0x400
)

// watchNetwork calls changed whenever Linux reports a network change: a
// link going up or down, an address or a route added or removed (a
// netlink route socket, the kernel's own notification; no polling). An
// offline engine then tries the server at once instead of waiting out its
// back-off. It returns when ctx ends; if the socket cannot be opened (a
// sandbox without netlink) it logs why and returns, and the back-off alone
// brings the link back.
func watchNetwork(ctx context.Context, log *slog.Logger, changed func()) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		log.Info("network changes not watched", "err", err)
		return
	}
	groups := uint32(rtmgrpLink | rtmgrpIPv4IfAddr | rtmgrpIPv4Route | rtmgrpIPv6IfAddr | rtmgrpIPv6Route)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: groups}); err != nil {
		syscall.Close(fd)
		log.Info("network changes not watched", "err", err)
		return
	}
	// A receive timeout lets the loop notice ctx's end without another
	// goroutine closing the descriptor under a blocked read.
	tv := syscall.NsecToTimeval(int64(time.Second))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		log.Info("network changes not watched", "err", err)
		return
	}
	defer syscall.Close(fd)
	buf := make([]byte, 16<<10)
	for ctx.Err() == nil {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR {
			continue
		}
		if err != nil {
			log.Info("network changes no longer watched", "err", err)
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil || len(msgs) == 0 {
			continue
		}
		log.Debug("network change reported", "messages", len(msgs), "type", msgs[0].Header.Type)
		changed()
	}
}
