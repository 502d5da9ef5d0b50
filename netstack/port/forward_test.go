package port

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestCheckFreeNamesAHostPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := uint16(ln.Addr().(*net.TCPAddr).Port)
	err = CheckFree([]Mapping{{HostIP: "127.0.0.1", HostPort: p, ContainerPort: 80, Protocol: "tcp"}})
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("want ErrPortInUse, got %v", err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(int(p)); !strings.Contains(err.Error(), want) {
		t.Errorf("want the error to name %s: %v", want, err)
	}
}

func TestAllocateGivesFreeHostPorts(t *testing.T) {
	ms := []Mapping{{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"}, {HostPort: 1, ContainerPort: 1, Protocol: "tcp"}}
	if err := Allocate(ms); err != nil {
		t.Fatal(err)
	}
	if ms[0].HostPort == 0 || ms[1].HostPort == 0 || ms[2].HostPort != 1 {
		t.Errorf("want random ports for the first two, the fixed one kept: %+v", ms)
	}
}
