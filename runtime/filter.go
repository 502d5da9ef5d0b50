package runtime

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/store/events"
	"github.com/den-project/den/store/image"
	"go.podman.io/image/v5/docker/reference"
)

// ContainerFilter selects containers as `ps --filter KEY=VALUE` does. Values given for one
// key match when any of them does, except label, where all must (as in podman); every key
// given must match.
type ContainerFilter struct {
	keys map[string][]func(*Container) bool
	// anchors are the containers that before= and since= name, found by Resolve.
	anchors []*anchor
}

// anchor is a container a filter compares creation times with.
type anchor struct {
	key, ref string
	created  time.Time
	found    bool // by Resolve: before then, before= and since= match nothing
}

// containerFilterKeys lists the keys ParseContainerFilters knows, for its error message.
const containerFilterKeys = "status, name, id, label, label!, ancestor, exited, health, before, since, until, volume or network"

// ParseContainerFilters reads --filter values: status=created|running|paused|exited,
// name=REGEXP, id=PREFIX, label=KEY or label=KEY=VALUE (label!= for those without that
// label or value), ancestor=IMAGE (a name, with or
// without tag, or an id prefix), exited=CODE, health=healthy|unhealthy|starting|none,
// before=CONTAINER and since=CONTAINER (created before or after it; Resolve finds it),
// until=TIME (created before an RFC 3339 time, a date, unix seconds or a duration ago),
// volume=SOURCE or SOURCE:DESTINATION (a volume's name or a bind's host path, as podman
// has it) and network=NAME (a network, or slirp4netns, none, host).
func ParseContainerFilters(specs []string) (*ContainerFilter, error) {
	f := &ContainerFilter{keys: map[string][]func(*Container) bool{}}
	for _, spec := range specs {
		key, val, ok := strings.Cut(spec, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--filter %q: use KEY=VALUE with a key among %s", spec, containerFilterKeys)
		}
		m, err := f.containerFilterFunc(strings.ToLower(key), val)
		if err != nil {
			return nil, fmt.Errorf("--filter %q: %w", spec, err)
		}
		f.keys[strings.ToLower(key)] = append(f.keys[strings.ToLower(key)], m)
	}
	return f, nil
}

func (f *ContainerFilter) containerFilterFunc(key, val string) (func(*Container) bool, error) {
	switch key {
	case "health":
		switch val {
		case HealthHealthy, HealthUnhealthy, HealthStarting:
			return func(c *Container) bool {
				return c.State.Status == StatusRunning && c.State.Health != nil && c.State.Health.Status == val
			}, nil
		case "none":
			return func(c *Container) bool { return c.Config.Health == nil }, nil
		}
		return nil, fmt.Errorf("health %q: use healthy, unhealthy, starting or none", val)
	case "before", "since":
		if val == "" {
			return nil, fmt.Errorf("name a container: %s=NAME or %s=ID", key, key)
		}
		a := &anchor{key: key, ref: val}
		f.anchors = append(f.anchors, a)
		if key == "before" {
			return func(c *Container) bool { return a.found && c.Created.Before(a.created) }, nil
		}
		return func(c *Container) bool { return a.found && c.Created.After(a.created) }, nil
	case "until":
		t, err := events.ParseTime(val, time.Now())
		if err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		return func(c *Container) bool { return c.Created.Before(t) }, nil
	case "volume":
		if val == "" {
			return nil, errors.New("name a mount's source: volume=NAME, volume=/HOST/PATH or volume=SOURCE:/DESTINATION")
		}
		return func(c *Container) bool {
			return slices.ContainsFunc(c.Config.Mounts, func(m Mount) bool {
				return m.Source != "" && (m.Source == val || m.Source+":"+m.Destination == val)
			})
		}, nil
	case "network":
		if val == "" {
			return nil, errors.New("name a network: network=NAME, or slirp4netns, none or host")
		}
		return func(c *Container) bool {
			n := networkOf(c)
			return n.Mode == val || slices.ContainsFunc(n.Networks, func(e netstack.Endpoint) bool { return e.Network == val })
		}, nil
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
	case "label!":
		k, v, hasValue := strings.Cut(val, "=")
		if k == "" {
			return nil, errors.New("use label!=KEY or label!=KEY=VALUE")
		}
		return func(c *Container) bool {
			got, ok := c.Labels[k]
			return !ok || (hasValue && got != v)
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

// Select lists the containers, newest first, with states reconciled, that keep takes and f
// matches (nil: all), before= and since= found among them.
func (r *Runtime) Select(f *ContainerFilter, keep func(*Container) bool) ([]*Container, error) {
	cs, err := r.List()
	if err != nil {
		return nil, err
	}
	if err := f.Resolve(cs); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(cs, func(c *Container) bool { return !keep(c) || !f.Match(c) }), nil
}

// Resolve finds the containers that before= and since= name among cs, the containers the
// filter is to run over: by name, id or unique id prefix.
func (f *ContainerFilter) Resolve(cs []*Container) error {
	if f == nil {
		return nil
	}
	for _, a := range f.anchors {
		c, err := anchorOf(cs, a.ref)
		if err != nil {
			return fmt.Errorf("--filter %s=%s: %w", a.key, a.ref, err)
		}
		a.created, a.found = c.Created, true
	}
	return nil
}

// anchorOf finds ref among cs as a container reference is found: by name or full id first,
// then by a unique id prefix.
func anchorOf(cs []*Container, ref string) (*Container, error) {
	if i := slices.IndexFunc(cs, func(c *Container) bool { return c.Name == ref || c.ID == ref }); i >= 0 {
		return cs[i], nil
	}
	var found *Container
	for _, c := range cs {
		if isHex(ref) && strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return nil, ErrAmbiguous
			}
			found = c
		}
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}

// Match reports whether c passes every key of the filter. A nil filter matches all.
func (f *ContainerFilter) Match(c *Container) bool {
	if f == nil {
		return true
	}
	for key, ms := range f.keys {
		all := key == "label" || key == "label!"
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
