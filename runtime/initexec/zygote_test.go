package initexec

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// nlattr is one attribute of a bootstrap message as libcontainer writes it.
type nlattr struct {
	typ uint16
	val []byte
}

// bootstrap builds a bootstrap message of type typ (libcontainer's is 62000).
func bootstrap(typ uint16, attrs ...nlattr) []byte {
	var body []byte
	for _, a := range attrs {
		h := make([]byte, 4)
		binary.NativeEndian.PutUint16(h, uint16(4+len(a.val)))
		binary.NativeEndian.PutUint16(h[2:], a.typ)
		body = append(body, h...)
		body = append(body, a.val...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	msg := make([]byte, 16, 16+len(body))
	binary.NativeEndian.PutUint32(msg, uint32(16+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], typ)
	return append(msg, body...)
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

const denFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

func TestBootstrapFlags(t *testing.T) {
	flags := nlattr{27281, u32(denFlags)}
	tests := []struct {
		name string
		msg  []byte
		want int64
		oom  string
	}{
		{"den's container", bootstrap(62000, flags, nlattr{27287, []byte{0}}), denFlags, ""},
		{"with an oom_score_adj", bootstrap(62000, flags, nlattr{27286, []byte("-500")}), denFlags, "-500"},
		{"empty namespace paths", bootstrap(62000, flags, nlattr{27282, nil}), denFlags, ""},
		{"namespaces to join", bootstrap(62000, flags, nlattr{27282, []byte("net:/proc/1/ns/net")}), -1, ""},
		{"uid map", bootstrap(62000, flags, nlattr{27283, []byte("0 1000 1\n")}), -1, ""},
		{"gid map", bootstrap(62000, flags, nlattr{27284, []byte("0 1000 1\n")}), -1, ""},
		{"newuidmap", bootstrap(62000, flags, nlattr{27288, []byte("/usr/bin/newuidmap")}), -1, ""},
		{"time offsets", bootstrap(62000, flags, nlattr{27290, []byte("monotonic 1 0")}), -1, ""},
		{"groups dropped by nsenter", bootstrap(62000, flags, nlattr{27285, []byte{1}}), -1, ""},
		{"groups, rootless", bootstrap(62000, flags, nlattr{27285, []byte{1}}, nlattr{27287, []byte{1}}), denFlags, ""},
		{"unknown attribute", bootstrap(62000, flags, nlattr{27299, []byte{1}}), -1, ""},
		{"no clone flags", bootstrap(62000), -1, ""},
		{"short clone flags", bootstrap(62000, nlattr{27281, []byte{1, 2}}), -1, ""},
		{"another message type", bootstrap(2, flags), -1, ""},
		{"empty", nil, -1, ""},
		{"header only, too short", make([]byte, 8), -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, oom := bootstrapFlags(tt.msg)
			if got != tt.want || oom != tt.oom {
				t.Errorf("bootstrapFlags = %#x, %q; want %#x, %q", got, oom, tt.want, tt.oom)
			}
		})
	}
	// A length that does not match the message, and an attribute running past the end.
	msg := bootstrap(62000, flags)
	if got, _ := bootstrapFlags(msg[:len(msg)-4]); got != -1 {
		t.Errorf("truncated message read as %#x", got)
	}
	bad := slices.Clone(msg)
	binary.NativeEndian.PutUint16(bad[16:], 200)
	if got, _ := bootstrapFlags(bad); got != -1 {
		t.Errorf("attribute past the end read as %#x", got)
	}
}

func FuzzBootstrapFlags(f *testing.F) {
	f.Add(bootstrap(62000, nlattr{27281, u32(denFlags)}))
	f.Add(bootstrap(62000, nlattr{27281, u32(denFlags)}, nlattr{27286, []byte("10")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, _ := bootstrapFlags(msg)
		if got < -1 || got > 0xffffffff {
			t.Fatalf("flags %#x out of range", got)
		}
	})
}

// handoverMsg builds stage 0's message for targets, cwd and env.
func handoverMsg(targets []int32, cwd string, env ...string) []byte {
	msg := binary.NativeEndian.AppendUint32(nil, uint32(len(targets)))
	for _, t := range targets {
		msg = binary.NativeEndian.AppendUint32(msg, uint32(t))
	}
	msg = append(append(msg, cwd...), 0)
	for _, e := range env {
		msg = append(append(msg, e...), 0)
	}
	return msg
}

func TestParseHandover(t *testing.T) {
	good := handoverMsg([]int32{0, 1, 2, 3, 100, -1}, "/run/den/c/rootfs", "_LIBCONTAINER_INITPIPE=3", "GOMAXPROCS=1", "EMPTY=")
	h, err := parseHandover(good, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.targets, []int{0, 1, 2, 3, 100, -1}) || h.reply != 5 || h.cwd != "/run/den/c/rootfs" ||
		!slices.Equal(h.env, []string{"_LIBCONTAINER_INITPIPE=3", "GOMAXPROCS=1", "EMPTY="}) {
		t.Errorf("parsed %+v", h)
	}
	bad := []struct {
		name string
		msg  []byte
		fds  int
	}{
		{"fewer descriptors than targets", good, 5},
		{"more descriptors than targets", good, 7},
		{"no count", []byte{1, 0}, 0},
		{"targets cut short", good[:10], 6},
		{"no working directory", handoverMsg([]int32{-1}, ""), 1},
		{"relative working directory", handoverMsg([]int32{-1}, "rootfs"), 1},
		{"working directory not ended", append(binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, 1), 0xffffffff), "/x"...), 1},
		{"variable not ended", append(handoverMsg([]int32{-1}, "/"), "A=1"...), 1},
		{"no socket for the answer", handoverMsg([]int32{0, 1}, "/"), 2},
		{"two sockets for the answer", handoverMsg([]int32{-1, -1}, "/"), 2},
		{"negative target", handoverMsg([]int32{-2, -1}, "/"), 2},
	}
	for _, tt := range bad {
		if _, err := parseHandover(tt.msg, tt.fds); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	// An entry without '=' is no variable, and is left out.
	h, err = parseHandover(handoverMsg([]int32{-1}, "/", "junk", "A=1"), 1)
	if err != nil || !slices.Equal(h.env, []string{"A=1"}) {
		t.Errorf("junk entry: %+v, %v", h, err)
	}
}

func FuzzParseHandover(f *testing.F) {
	f.Add(handoverMsg([]int32{0, 1, 2, -1}, "/r", "A=1"), 4)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, msg []byte, fds int) {
		h, err := parseHandover(msg, fds)
		if err != nil {
			return
		}
		if len(h.targets) != fds || h.cwd == "" || h.cwd[0] != '/' {
			t.Fatalf("accepted %+v for %d descriptors", h, fds)
		}
		for i, tg := range h.targets {
			if tg < -1 || (tg == -1) != (i == h.reply) {
				t.Fatalf("targets %v with the answer's socket at %d", h.targets, h.reply)
			}
		}
	})
}
