package image

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"go.podman.io/image/v5/docker/reference"
)

// ErrBadFilter is returned for a --filter den does not understand.
var ErrBadFilter = errors.New("invalid filter")

// Filter is the parsed form of `den images --filter`: podman's dangling, reference, label,
// before and since. Filters of one key are alternatives for reference and must all hold for
// label; filters of different keys must all hold.
type Filter struct {
	// Dangling, when set, keeps only images without a name (true) or with one (false).
	Dangling *bool
	// References are glob patterns matched against the image's names.
	References []string
	// Labels are KEY or KEY=VALUE.
	Labels []string
	// Before and Since name images; Bind turns them into times.
	Before, Since string

	before, since time.Time
}

// ParseFilters reads KEY=VALUE filters.
func ParseFilters(specs []string) (*Filter, error) {
	f := &Filter{}
	for _, s := range specs {
		k, v, ok := strings.Cut(s, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("%w %q: use KEY=VALUE", ErrBadFilter, s)
		}
		switch k {
		case "dangling":
			b, err := parseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%w %q: %v", ErrBadFilter, s, err)
			}
			f.Dangling = &b
		case "reference":
			if _, err := path.Match(v, ""); err != nil {
				return nil, fmt.Errorf("%w %q: bad pattern", ErrBadFilter, s)
			}
			f.References = append(f.References, v)
		case "label":
			if strings.HasPrefix(v, "=") {
				return nil, fmt.Errorf("%w %q: the label needs a key", ErrBadFilter, s)
			}
			f.Labels = append(f.Labels, v)
		case "before", "since":
			if k == "before" {
				f.Before = v
			} else {
				f.Since = v
			}
		default:
			return nil, fmt.Errorf("%w %q: den filters images by dangling, reference, label, before and since", ErrBadFilter, s)
		}
	}
	return f, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

// Bind resolves before and since with created, which returns the creation time of the image
// a user names.
func (f *Filter) Bind(created func(ref string) (time.Time, error)) error {
	for _, b := range []struct {
		ref string
		t   *time.Time
	}{{f.Before, &f.before}, {f.Since, &f.since}} {
		if b.ref == "" {
			continue
		}
		t, err := created(b.ref)
		if err != nil {
			return err
		}
		*b.t = t
	}
	return nil
}

// Match reports whether img passes every filter. Before and since must be bound first.
func (f *Filter) Match(img Image) bool {
	if f.Dangling != nil && *f.Dangling != (len(img.Names) == 0) {
		return false
	}
	if f.Before != "" && !img.Created.Before(f.before) {
		return false
	}
	if f.Since != "" && !img.Created.After(f.since) {
		return false
	}
	for _, l := range f.Labels {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := img.Labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	if len(f.References) == 0 {
		return true
	}
	for _, pat := range f.References {
		for _, name := range img.Names {
			if MatchReference(pat, name) {
				return true
			}
		}
	}
	return false
}

// MatchReference reports whether the glob pattern matches a stored full name, written in
// full (docker.io/library/busybox:latest), as its repository, in Docker's short form
// (busybox:latest, busybox), or as any trailing part of those (library/busybox).
func MatchReference(pattern, name string) bool {
	forms := []string{name}
	if n, err := reference.ParseNormalizedNamed(name); err == nil {
		forms = append(forms, n.Name(), reference.FamiliarString(n), reference.FamiliarName(n))
	}
	for _, form := range forms {
		for {
			if ok, _ := path.Match(pattern, form); ok {
				return true
			}
			_, rest, found := strings.Cut(form, "/")
			if !found {
				break
			}
			form = rest
		}
	}
	return false
}
