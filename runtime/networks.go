package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/netstack/network"
	"github.com/den-project/den/store/events"
)

// ErrNetworkInUse is returned when a network that containers use would be removed.
var ErrNetworkInUse = errors.New("network is in use")

// NetworkUsers maps each network name to the names of the containers on it.
func (r *Runtime) NetworkUsers() (map[string][]*Container, error) {
	all, err := r.recs.list()
	if err != nil {
		return nil, err
	}
	out := map[string][]*Container{}
	for _, c := range all {
		for _, ep := range networkOf(c).Networks {
			out[ep.Network] = append(out[ep.Network], c)
		}
	}
	return out, nil
}

// RemoveNetwork removes a network. One that containers use is refused unless force, which
// removes those containers first, stopping running ones with stopTimeout (OwnStopTimeout:
// each container's).
func (r *Runtime) RemoveNetwork(ctx context.Context, ref string, force bool, stopTimeout time.Duration) (*network.Network, error) {
	nw, err := r.Networks().Get(ref)
	if err != nil {
		return nil, err
	}
	if force {
		// Before the users lock: removing a container takes its lock, and a container's
		// lock is always taken before the users lock (connect takes them in that order).
		users, err := r.NetworkUsers()
		if err != nil {
			return nil, err
		}
		for _, c := range users[nw.Name] {
			if _, err := r.RemoveWithVolumes(ctx, c.ID, true, false, stopTimeout); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
		}
	}
	lk, err := r.Networks().LockUsers()
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	users, err := r.NetworkUsers()
	if err != nil {
		return nil, err
	}
	if cs := users[nw.Name]; len(cs) > 0 {
		return nil, networkInUse(nw.Name, cs)
	}
	if err := r.Networks().Remove(nw.Name); err != nil {
		return nil, err
	}
	r.publishNetwork(nw, events.StatusRemove)
	return nw, nil
}

func networkInUse(name string, cs []*Container) error {
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return fmt.Errorf("network %s: %w by container(s) %s: remove them first or use --force", name, ErrNetworkInUse, strings.Join(names, ", "))
}

// CreateNetwork makes a user-defined network.
func (r *Runtime) CreateNetwork(o network.CreateOptions) (*network.Network, error) {
	n, err := r.Networks().Create(o)
	if err != nil {
		return nil, err
	}
	r.publishNetwork(n, events.StatusCreate)
	return n, nil
}

// PruneNetworks removes every network no container is on that passes f, and returns their
// names, sorted.
func (r *Runtime) PruneNetworks(f network.Filter) ([]string, error) {
	lk, err := r.Networks().LockUsers()
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	all, err := r.Networks().List()
	if err != nil {
		return nil, err
	}
	users, err := r.NetworkUsers()
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, n := range all {
		if len(users[n.Name]) > 0 || !f.Match(n) {
			continue
		}
		if err := r.Networks().Remove(n.Name); err != nil {
			return gone, err
		}
		r.publishNetwork(n, events.StatusRemove)
		gone = append(gone, n.Name)
	}
	sort.Strings(gone)
	return gone, nil
}

// ConnectNetwork puts a container on one more network. A running container gets the
// interface at once, from its holder; a stopped one at its next start.
func (r *Runtime) ConnectNetwork(ctr, net string, aliases []string, ip string) error {
	c, lk, err := r.lockedNetworked(ctr)
	if err != nil {
		return err
	}
	defer lk.Release()
	users, err := r.Networks().LockUsers()
	if err != nil {
		return err
	}
	defer users.Release()
	n := networkOf(c)
	ep := netstack.Endpoint{Network: net, Aliases: aliases}
	if err := r.completeEndpoint(&ep); err != nil {
		return err
	}
	for _, e := range n.Networks {
		if e.Network == ep.Network {
			return fmt.Errorf("container %s is already connected to network %s", c.Name, ep.Network)
		}
	}
	a, err := r.Networks().Allocate(ep.Network, c.ID, ip, r.recs.exists)
	if err != nil {
		return err
	}
	ep.IP = a.String()
	if c.State.Status == StatusRunning {
		req := controlRequest{Op: "connect", Endpoint: &ep}
		if _, err := askHolder(r.runDir(c.ID), req, time.Now().Add(time.Minute)); err != nil {
			_ = r.Networks().Release(c.ID, []string{ep.Network})
			return fmt.Errorf("connecting container %s to network %s: %w", c.Name, ep.Network, err)
		}
	}
	n.Networks = append(n.Networks, ep)
	c.Config.Network = &n
	if err := r.recs.save(c); err != nil {
		// The record is what every later command believes: undo the live part too.
		if c.State.Status == StatusRunning {
			_, _ = askHolder(r.runDir(c.ID), controlRequest{Op: "disconnect", Network: ep.Network}, time.Now().Add(time.Minute))
		}
		_ = r.Networks().Release(c.ID, []string{ep.Network})
		return err
	}
	r.publishMembership(c, ep.Network, events.StatusConnect)
	return nil
}

// DisconnectNetwork takes a container off a network; its last network cannot go. A running
// container loses the interface before this returns.
func (r *Runtime) DisconnectNetwork(ctr, net string) error {
	c, lk, err := r.lockedNetworked(ctr)
	if err != nil {
		return err
	}
	defer lk.Release()
	n := networkOf(c)
	nw, err := r.Networks().Get(net)
	if err != nil {
		return err
	}
	keep := n.Networks[:0:0]
	for _, e := range n.Networks {
		if e.Network != nw.Name {
			keep = append(keep, e)
		}
	}
	if len(keep) == len(n.Networks) {
		return fmt.Errorf("container %s is not connected to network %s", c.Name, nw.Name)
	}
	if len(keep) == 0 {
		return fmt.Errorf("network %s is the last network of container %s: connect it to another one first", nw.Name, c.Name)
	}
	if c.State.Status == StatusRunning {
		req := controlRequest{Op: "disconnect", Network: nw.Name}
		if _, err := askHolder(r.runDir(c.ID), req, time.Now().Add(time.Minute)); err != nil && !errors.Is(err, ErrNotRunning) {
			return fmt.Errorf("disconnecting container %s from network %s: %w", c.Name, nw.Name, err)
		}
	}
	n.Networks = keep
	c.Config.Network = &n
	if err := r.recs.save(c); err != nil {
		return err
	}
	r.publishMembership(c, nw.Name, events.StatusDisconnect)
	return r.Networks().Release(c.ID, []string{nw.Name})
}

// lockedNetworked resolves ref and locks the container, which must be on user-defined
// networks.
func (r *Runtime) lockedNetworked(ref string) (*Container, interface{ Release() }, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	c, lk, err := r.lockedRecord(c.ID)
	if err != nil {
		return nil, nil, err
	}
	reconcile(c)
	if n := networkOf(c); n.Mode != netstack.ModeBridge {
		lk.Release()
		return nil, nil, fmt.Errorf("container %s uses --network %s, not user-defined networks: only containers created with --network NAME can be connected to more", c.Name, n)
	}
	return c, lk, nil
}
