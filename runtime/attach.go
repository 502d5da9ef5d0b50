package runtime

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// Attaching: the monitor of a detached container fans its output out to attached clients
// and feeds their input to the container, over the control socket, in frames of
// [type byte][length uint32][payload].
const (
	frameStdin  = 0 // client → monitor: input
	frameStdout = 1 // monitor → client
	frameStderr = 2
	frameExit   = 3 // monitor → client: the exit code, in decimal
	frameResize = 4 // client → monitor: "WIDTH HEIGHT"
	frameEOF    = 5 // client → monitor: the client's stdin ended
)

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	hdr := make([]byte, 5, 5+len(payload))
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	_, err := w.Write(append(hdr, payload...))
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 1<<20 {
		return 0, nil, errors.New("attach frame too large")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return hdr[0], p, err
}

// hub is the monitor's side of attach: who is attached, and where their input goes.
type hub struct {
	mu      sync.Mutex
	clients map[net.Conn]*sync.Mutex
	stdin   io.WriteCloser  // the container's stdin pipe, when it has one
	cons    console.Console // the container's terminal, when it has one
	// onAttach publishes the attach event.
	onAttach func()
}

func newHub() *hub { return &hub{clients: map[net.Conn]*sync.Mutex{}} }

// sink receives the container's output after it is logged.
func (h *hub) sink(stream string, data []byte) {
	typ := byte(frameStdout)
	if stream == "stderr" {
		typ = frameStderr
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c, wmu := range h.clients {
		wmu.Lock()
		if err := writeFrame(c, typ, data); err != nil {
			c.Close()
			delete(h.clients, c)
		}
		wmu.Unlock()
	}
}

// attach serves one attached client until it leaves or the container exits.
func (h *hub) attach(conn net.Conn, withStdin bool) {
	h.mu.Lock()
	h.clients[conn] = &sync.Mutex{}
	h.mu.Unlock()
	reply(conn, controlReply{})
	if h.onAttach != nil {
		h.onAttach()
	}
	for {
		typ, p, err := readFrame(conn)
		if err != nil {
			break
		}
		switch typ {
		case frameStdin:
			if !withStdin {
				continue
			}
			if h.cons != nil {
				_, _ = h.cons.Write(p)
			} else if h.stdin != nil {
				_, _ = h.stdin.Write(p)
			}
		case frameEOF:
			if withStdin && h.stdin != nil && h.cons == nil {
				h.stdin.Close()
			}
		case frameResize:
			var w, ht uint16
			if _, err := fmt.Sscanf(string(p), "%d %d", &w, &ht); err == nil && h.cons != nil {
				_ = h.cons.Resize(console.WinSize{Width: w, Height: ht})
			}
		}
	}
	h.mu.Lock()
	delete(h.clients, conn)
	h.mu.Unlock()
	conn.Close()
}

// exit tells every attached client the exit code and lets them go.
func (h *hub) exit(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c, wmu := range h.clients {
		wmu.Lock()
		_ = writeFrame(c, frameExit, []byte(strconv.Itoa(code)))
		wmu.Unlock()
		c.Close()
		delete(h.clients, c)
	}
}

// AttachOptions are the client's choices for attach.
type AttachOptions struct {
	NoStdin    bool
	DetachKeys []byte
}

// Attach connects the caller's stdio to a running detached container until it exits (its
// exit code is returned) or the user types the detach keys (ErrDetached).
func (r *Runtime) Attach(ref string, o AttachOptions, stdio Stdio) (int, error) {
	c, conn, err := r.dialRunning(ref)
	if err != nil {
		return 125, err
	}
	defer conn.Close()
	withStdin := !o.NoStdin && c.Config.Interactive
	req, _ := json.Marshal(controlRequest{Op: "attach", Stdin: withStdin})
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return 125, err
	}
	first, err := readLine(conn)
	if err != nil {
		return 125, fmt.Errorf("container %s: attach refused", c.Name)
	}
	var rep controlReply
	if json.Unmarshal([]byte(first), &rep) != nil || rep.Error != "" {
		return 125, fmt.Errorf("container %s: attach refused: %s", c.Name, rep.Error)
	}
	var wmu sync.Mutex
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, typ, p)
	}
	if c.Config.Tty {
		defer rawTerminal(stdio.In, func(ws *unix.Winsize) {
			_ = send(frameResize, []byte(fmt.Sprintf("%d %d", ws.Col, ws.Row)))
		})()
	}
	detached := make(chan struct{})
	if withStdin && stdio.In != nil {
		go func() {
			fw := frameWriter{send: send}
			if copyWithDetach(fw, stdio.In, o.DetachKeys) {
				close(detached)
				return
			}
			_ = send(frameEOF, nil)
		}()
	}
	result := make(chan int, 1)
	go func() {
		for {
			typ, p, err := readFrame(conn)
			if err != nil {
				result <- -1
				return
			}
			switch typ {
			case frameStdout:
				_, _ = stdio.Out.Write(p)
			case frameStderr:
				_, _ = stdio.Err.Write(p)
			case frameExit:
				n, _ := strconv.Atoi(strings.TrimSpace(string(p)))
				result <- n
				return
			}
		}
	}()
	select {
	case code := <-result:
		if code < 0 {
			// The monitor went away without a word: the record tells the rest.
			return r.Wait(context.Background(), c.ID)
		}
		return code, nil
	case <-detached:
		return 0, ErrDetached
	}
}

type frameWriter struct{ send func(byte, []byte) error }

func (f frameWriter) Write(p []byte) (int, error) {
	if err := f.send(frameStdin, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// readLine reads one line byte by byte, so no frame after it is swallowed by a buffer.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			return b.String(), err
		}
		if one[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(one[0])
		if b.Len() > 64<<10 {
			return "", errors.New("line too long")
		}
	}
}
