package runtime

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/den-project/den/store/image"
	"go.podman.io/image/v5/docker/reference"
)

// ContainerFilter selects containers as `ps --filter KEY=VALUE` does. Values given for one
// key match when any of them does, except label, where all must (as in podman); every key
// given must match.
type ContainerFilter struct {
	keys map[string][]func(*Container) bool
}

// containerFilterKeys lists the keys ParseContainerFilters knows, for its error message.
const containerFilterKeys = "status, name, id, label, ancestor or exited"

// ParseContainerFilters reads --filter values: status=created|running|paused|exited,
// name=REGEXP, id=PREFIX, label=KEY or label=KEY=VALUE, ancestor=IMAGE (a name, with or
// without tag, or an id prefix) and exited=CODE.
func ParseContainerFilters(specs []string) (*ContainerFilter, error) {
	f := &ContainerFilter{keys: map[string][]func(*Container) bool{}}
	for _, spec := range specs {
		key, val, ok := strings.Cut(spec, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE with a key among %s", spec, containerFilterKeys)
		}
		m, err := containerFilterFunc(strings.ToLower(key), val)
		if err != nil {
			return nil, fmt.Errorf("--filter %q: %w", spec, err)
		}
		f.keys[strings.ToLower(key)] = append(f.keys[strings.ToLower(key)], m)
	}
	return f, nil
}

func containerFilterFunc(key, val string) (func(*Container) bool, error) {
	switch key {
	case "status":
		switch val {
		case StatusCreated, StatusRunning, StatusExited, StatusPaused:
		default:
			return nil, fmt.Errorf("status %q: use created, running, paused or exited", val)
		}
		return func(c *Container) bool { return c.ShownStatus() == val }, nil
	case "name":
		re, err := regexp.Compile(val)
		if err != nil {
			return nil, fmt.Errorf("name is a regular expression: %w", err)
		}
		return func(c *Container) bool { return re.MatchString(c.Name) }, nil
	case "id":
		return func(c *Container) bool { return strings.HasPrefix(c.ID, val) }, nil
	case "label":
		k, v, hasValue := strings.Cut(val, "=")
		if k == "" {
			return nil, errors.New("use label=KEY or label=KEY=VALUE")
		}
		return func(c *Container) bool {
			got, ok := c.Labels[k]
			return ok && (!hasValue || got == v)
		}, nil
	case "ancestor":
		if val == "" {
			return nil, errors.New("name an image: ancestor=IMAGE[:TAG] or ancestor=IMAGE-ID")
		}
		return func(c *Container) bool { return madeFromImage(c, val) }, nil
	case "exited":
		code, err := strconv.Atoi(val)
		if err != nil {
			return nil, fmt.Errorf("exited takes an exit code: %q is not a number", val)
		}
		return func(c *Container) bool { return c.State.Status == StatusExited && c.State.ExitCode == code }, nil
	}
	return nil, fmt.Errorf("unknown filter %q: use %s", key, containerFilterKeys)
}

// fromImage reports whether c was made from the image the user named: by id prefix, by the
// name as typed at create time, or by full name. A name without a tag stands for every tag of
// the repository, as podman's pattern match has it.
func madeFromImage(c *Container, ref string) bool {
	if id := strings.TrimPrefix(ref, "sha256:"); isHex(id) && strings.HasPrefix(c.ImageID, id) {
		return true
	}
	if ref == c.Image || ref == c.ImageName {
		return true
	}
	for _, cand := range image.Candidates(ref) {
		if cand == c.ImageName {
			return true
		}
	}
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	if _, tagged := n.(reference.Tagged); tagged {
		return false
	}
	own, err := reference.ParseNormalizedNamed(c.ImageName)
	if err != nil {
		return false
	}
	for _, cand := range image.Candidates(ref) {
		if cn, err := reference.ParseNormalizedNamed(cand); err == nil && cn.Name() == own.Name() {
			return true
		}
	}
	return false
}

// Match reports whether c passes every key of the filter. A nil filter matches all.
func (f *ContainerFilter) Match(c *Container) bool {
	if f == nil {
		return true
	}
	for key, ms := range f.keys {
		all := key == "label"
		ok := all
		for _, m := range ms {
			if m(c) != all {
				ok = !all
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// SelectsByStatus reports whether the filter names states: ps then looks at containers in
// every state, not only running ones, as podman and docker do.
func (f *ContainerFilter) SelectsByStatus() bool {
	return f != nil && len(f.keys["status"]) > 0
}

// SortContainers orders containers by a `ps --sort` key. created and runningfor put the
// newest first; the others sort ascending.
func SortContainers(cs []*Container, key string) error {
	var less func(a, b *Container) bool
	switch key {
	case "", "created", "runningfor":
		less = func(a, b *Container) bool { return a.Created.After(b.Created) }
	case "command":
		less = func(a, b *Container) bool { return strings.Join(a.Config.Args, " ") < strings.Join(b.Config.Args, " ") }
	case "id":
		less = func(a, b *Container) bool { return a.ID < b.ID }
	case "image":
		less = func(a, b *Container) bool { return a.ImageName < b.ImageName }
	case "names":
		less = func(a, b *Container) bool { return a.Name < b.Name }
	case "status":
		less = func(a, b *Container) bool { return a.State.Status < b.State.Status }
	default:
		return fmt.Errorf("--sort %q: use command, created, id, image, names, runningfor or status", key)
	}
	sort.SliceStable(cs, func(i, j int) bool { return less(cs[i], cs[j]) })
	return nil
}
