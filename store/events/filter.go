package events

import (
	"fmt"
	"slices"
	"strings"
)

// Filter selects events as podman's `events --filter` does: an event must match one value of
// every field that has values. The zero Filter matches every event.
type Filter struct {
	// Type is the event's type: container, image, volume, network, system or pod.
	Type []string
	// Container is a container's name, or its id or a prefix of it; it matches only container
	// events.
	Container []string
	// Event is the status: create, start, died, ...
	Event []string
	// Image is an image's name, or its id or a prefix of it; it matches only image events.
	Image []string
	// Volume is a prefix of a volume's name; it matches only volume events.
	Volume []string
	// Label is "key" (the attribute is set) or "key=value".
	Label []string
}

// filterKeys are the keys ParseFilters takes, for its error message.
const filterKeys = "container, event, image, label, type or volume"

// knownTypes are the values of type=.
var knownTypes = []string{TypeContainer, TypeImage, TypeVolume, TypeNetwork, TypeSystem, TypePod}

// ParseFilters reads podman's --filter values: "container=web", "event=start" (status= is the
// same key), "image=ID", "label=key" or "label=key=value", "type=image", "volume=name". Keys
// are case-insensitive. Several values of one key match either; different keys must all match.
func ParseFilters(args []string) (Filter, error) {
	var f Filter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return Filter{}, fmt.Errorf("filter %q: want KEY=VALUE, such as event=start", a)
		}
		switch strings.ToLower(k) {
		case "type":
			if !slices.Contains(knownTypes, v) {
				return Filter{}, fmt.Errorf("filter %q: unknown event type %q: use %s", a, v, strings.Join(knownTypes, ", "))
			}
			f.Type = append(f.Type, v)
		case "container":
			f.Container = append(f.Container, v)
		case "event", "status":
			if v == "die" { // docker's name, which podman takes too
				v = StatusDied
			}
			f.Event = append(f.Event, v)
		case "image":
			f.Image = append(f.Image, v)
		case "volume":
			f.Volume = append(f.Volume, v)
		case "label":
			f.Label = append(f.Label, v)
		default:
			return Filter{}, fmt.Errorf("filter %q: unknown key %q: use %s", a, k, filterKeys)
		}
	}
	return f, nil
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev Event) bool {
	return anyOf(f.Type, func(v string) bool { return ev.Type == v }) &&
		anyOf(f.Container, func(v string) bool { return ev.Type == TypeContainer && namedOrID(ev, v) }) &&
		anyOf(f.Event, func(v string) bool { return ev.Status == v }) &&
		anyOf(f.Image, func(v string) bool { return ev.Type == TypeImage && namedOrID(ev, v) }) &&
		anyOf(f.Volume, func(v string) bool { return ev.Type == TypeVolume && strings.HasPrefix(ev.Name, v) }) &&
		anyOf(f.Label, func(v string) bool {
			k, want, hasValue := strings.Cut(v, "=")
			got, ok := ev.Attributes[k]
			return ok && (!hasValue || got == want)
		})
}

func namedOrID(ev Event, v string) bool { return ev.Name == v || strings.HasPrefix(ev.ID, v) }

// anyOf is true for no values, else when one value matches.
func anyOf(values []string, match func(string) bool) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		if match(v) {
			return true
		}
	}
	return false
}
