package userns

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Range is one line of /etc/subuid or /etc/subgid: Count ids on the host from Start.
type Range struct {
	Start, Count int
}

// ParseSubIDs returns the ranges that /etc/subuid-format data grants to the user known by name
// or by numeric id, in file order. Malformed lines are skipped, as shadow-utils does, but a
// line for this user that is malformed is an error, since it would silently shrink the map.
func ParseSubIDs(r io.Reader, name string, id int) ([]Range, error) {
	var out []Range
	sc := bufio.NewScanner(r)
	idStr := strconv.Itoa(id)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if f[0] != name && f[0] != idStr {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: %q is not USER:START:COUNT", n, line)
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32-1 {
			return nil, fmt.Errorf("line %d: %q is not USER:START:COUNT", n, line)
		}
		out = append(out, Range{Start: int(start), Count: int(count)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Mapping is the container-side view of the map den builds: id 0 is the user, then every
// subordinate range, in order.
type Mapping struct {
	ContainerID, HostID, Size int
}

// BuildMappings lays the user's own id at 0 and the subordinate ranges after it.
func BuildMappings(own int, ranges []Range) []Mapping {
	m := []Mapping{{ContainerID: 0, HostID: own, Size: 1}}
	next := 1
	for _, r := range ranges {
		m = append(m, Mapping{ContainerID: next, HostID: r.Start, Size: r.Count})
		next += r.Count
	}
	return m
}

// Size is how many ids the mappings cover inside the namespace.
func Size(m []Mapping) int {
	n := 0
	for _, x := range m {
		n += x.Size
	}
	return n
}
