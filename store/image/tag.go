package image

import (
	"fmt"
	"slices"

	"go.podman.io/image/v5/docker/reference"
)

// Tag adds names to an image, short ones under localhost/ as podman does. A name another
// image had moves to this one. It returns the full names added.
func (m *Manager) Tag(nameOrID string, names []string) (id string, added []string, err error) {
	for _, n := range names {
		full, err := NormalizeLocalName(n)
		if err != nil {
			return "", nil, err
		}
		added = append(added, full.String())
	}
	img, err := m.Lookup(nameOrID)
	if err != nil {
		return "", nil, err
	}
	if err := m.Store.AddNames(img.ID, added); err != nil {
		return "", nil, fmt.Errorf("tagging image %s: %w", shortID(img.ID), err)
	}
	return img.ID, added, nil
}

// Untag removes names from an image, all of them when names is empty; the image stays. A
// name is matched as podman normalises it (localhost/ for a short name) or as den resolves
// it (docker.io/library/ for a short name). It returns the names removed.
func (m *Manager) Untag(nameOrID string, names []string) (id string, removed []string, err error) {
	img, err := m.Lookup(nameOrID)
	if err != nil {
		return "", nil, err
	}
	if len(names) == 0 {
		removed = slices.Clone(img.Names)
	}
	for _, n := range names {
		full, err := NormalizeLocalName(n)
		if err != nil {
			return "", nil, err
		}
		forms := append([]string{full.String()}, Candidates(n)...)
		i := slices.IndexFunc(forms, func(f string) bool { return slices.Contains(img.Names, f) })
		if i < 0 {
			return "", nil, fmt.Errorf("image %s has no name %s: %w", nameOrID, n, ErrNotFound)
		}
		removed = append(removed, forms[i])
	}
	if len(removed) > 0 {
		if err := m.Store.RemoveNames(img.ID, removed); err != nil {
			return "", nil, fmt.Errorf("untagging image %s: %w", shortID(img.ID), err)
		}
	}
	return img.ID, removed, nil
}

// NormalizeLocalName turns a name for an image den makes (import, commit, tag) into a full
// reference, putting short names under localhost/ as podman does.
func NormalizeLocalName(name string) (reference.Named, error) {
	s := name
	if !hasRegistry(name) {
		s = "localhost/" + name
	}
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, fmt.Errorf("invalid image name %q: %w", name, err)
	}
	if _, ok := n.(reference.Digested); ok {
		return nil, fmt.Errorf("invalid image name %q: a digest cannot name a new image", name)
	}
	return reference.TagNameOnly(n), nil
}
