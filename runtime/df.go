package runtime

import (
	"fmt"

	"github.com/den-project/den/store/image"
	"go.podman.io/storage"
	"go.podman.io/storage/pkg/directory"
)

// DiskUsage is what `den system df` reports: the space images, containers and volumes take.
//
// It runs inside den's user namespace (system is a namespace command): container upper dirs
// and volumes hold files and directories that subordinate ids own, often mode 0700, which
// the user cannot list from the host namespace; inside, the user is root over those ids and
// every size is counted. The walk itself (containers/storage's directory.Size) opens the
// tree as an os.Root, so a symlink swapped in by a running container never leads it out.
type DiskUsage struct {
	Images     []ImageUsage
	Containers []ContainerUsage
	Volumes    []VolumeUsage
	// ImagesSize is what all images take on disk, shared layers once; ImagesReclaimable
	// what removing the images no container uses would free.
	ImagesSize, ImagesReclaimable int64
}

// ImageUsage is one image and how many containers use it.
type ImageUsage struct {
	image.Usage
	Containers int
}

// ContainerUsage is one container and the size of its writable layer.
type ContainerUsage struct {
	Container *Container
	Size      int64
	// Volumes counts its named and anonymous volumes.
	Volumes int
}

// VolumeUsage is one volume, its size and how many containers use it.
type VolumeUsage struct {
	Name  string
	Links int
	Size  int64
}

// DiskUsage measures images, containers and volumes.
func (r *Runtime) DiskUsage() (*DiskUsage, error) {
	release, err := r.HoldRemovals()
	if err != nil {
		return nil, err
	}
	defer release()
	cs, err := r.List()
	if err != nil {
		return nil, err
	}
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	cat, err := r.Catalog()
	if err != nil {
		return nil, err
	}
	du := &DiskUsage{}
	byImage := map[string]int{}
	sizes := sizesIn(st, cat, cs)
	for _, c := range cs {
		byImage[c.ImageID]++
		cu := ContainerUsage{Container: c, Size: sizes[c.ID].Rw}
		for _, m := range c.Config.Mounts {
			if m.Type == MountVolume {
				cu.Volumes++
			}
		}
		du.Containers = append(du.Containers, cu)
	}
	var all, used []string
	for _, u := range cat.Usage() {
		du.Images = append(du.Images, ImageUsage{Usage: u, Containers: byImage[u.ID]})
		all = append(all, u.ID)
		if byImage[u.ID] > 0 {
			used = append(used, u.ID)
		}
	}
	du.ImagesSize = cat.DiskSize(all)
	du.ImagesReclaimable = du.ImagesSize - cat.DiskSize(used)
	vols, users, err := r.volumesAndUsers()
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		n, err := directory.Size(v.Mountpoint)
		if err != nil {
			return nil, fmt.Errorf("measuring volume %s: %w", v.Name, err)
		}
		du.Volumes = append(du.Volumes, VolumeUsage{Name: v.Name, Links: len(users[v.Name]), Size: n})
	}
	return du, nil
}

// ContainerSize is what a container takes: Rw its writable layer, RootFs that with its
// image's size (podman's SizeRw and SizeRootFs).
type ContainerSize struct {
	Rw, RootFs int64
}

// Sizes measures the containers cs, by id. It needs den's user namespace, as DiskUsage
// does: the writable layers hold files of the subordinate ids. A container whose storage is
// gone takes nothing.
func (r *Runtime) Sizes(cs []*Container) (map[string]ContainerSize, error) {
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	cat, err := r.Catalog()
	if err != nil {
		return nil, err
	}
	return sizesIn(st, cat, cs), nil
}

// sizesIn measures cs in storage st, their images' sizes from cat. A container whose
// storage is gone (a create killed half-way) takes nothing.
func sizesIn(st storage.Store, cat *image.Catalog, cs []*Container) map[string]ContainerSize {
	images := map[string]int64{}
	for _, u := range cat.Usage() {
		images[u.ID] = u.Size
	}
	out := make(map[string]ContainerSize, len(cs))
	for _, c := range cs {
		var s ContainerSize
		if n, err := st.ContainerSize(c.ID); err == nil {
			s.Rw = n
		}
		s.RootFs = s.Rw + images[c.ImageID]
		out[c.ID] = s
	}
	return out
}
