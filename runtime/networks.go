package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/netstack/network"
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
// removes those containers first.
func (r *Runtime) RemoveNetwork(ctx context.Context, ref string, force bool) (*network.Network, error) {
	nw, err := r.Networks().Get(ref)
	if err != nil {
		return nil, err
	}
	users, err := r.NetworkUsers()
	if err != nil {
		return nil, err
	}
	if cs := users[nw.Name]; len(cs) > 0 {
		if !force {
			names := make([]string, 0, len(cs))
			for _, c := range cs {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("network %s: %w by container(s) %s: remove them first or use --force", nw.Name, ErrNetworkInUse, strings.Join(names, ", "))
		}
		for _, c := range cs {
			if _, err := r.Remove(ctx, c.ID, true); err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
		}
	}
	return nw, r.Networks().Remove(nw.Name)
}

// ConnectNetwork puts a stopped container on one more network (it gets the interface at
// its next start). Live containers are refused: their namespace is wired only at start.
func (r *Runtime) ConnectNetwork(ctr, net string, aliases []string, ip string) error {
	c, lk, err := r.lockedContainer(ctr)
	if err != nil {
		return err
	}
	defer lk.Release()
	n := networkOf(c)
	if n.Mode != netstack.ModeBridge {
		return fmt.Errorf("container %s uses --network %s, not user-defined networks: only containers created with --network NAME can be connected to more", c.Name, n)
	}
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
	n.Networks = append(n.Networks, ep)
	c.Config.Network = &n
	if err := r.recs.save(c); err != nil {
		_ = r.Networks().Release(c.ID, []string{ep.Network})
		return err
	}
	return nil
}

// DisconnectNetwork takes a stopped container off a network; its last network cannot go.
func (r *Runtime) DisconnectNetwork(ctr, net string) error {
	c, lk, err := r.lockedContainer(ctr)
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
	n.Networks = keep
	c.Config.Network = &n
	if err := r.recs.save(c); err != nil {
		return err
	}
	return r.Networks().Release(c.ID, []string{nw.Name})
}

// lockedContainer resolves ref and locks the container, which must not be running.
func (r *Runtime) lockedContainer(ref string) (*Container, interface{ Release() }, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	c, lk, err := r.lockedRecord(c.ID)
	if err != nil {
		return nil, nil, err
	}
	reconcile(c)
	if c.State.Status == StatusRunning {
		lk.Release()
		return nil, nil, fmt.Errorf("container %s is running, and den connects networks only to stopped containers: stop it first", c.Name)
	}
	return c, lk, nil
}
