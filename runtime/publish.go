package runtime

import (
	"github.com/den-project/den/netstack/network"
	"github.com/den-project/den/store/events"
	"github.com/sirupsen/logrus"
)

// Events returns den's event log.
func (r *Runtime) Events() *events.Log { return events.New(r.Paths.DataDir) }

// publishNetwork appends an event of network n: create and remove carry the network's id,
// connect and disconnect the container's id and name, as podman's do.
func (r *Runtime) publishNetwork(n *network.Network, status string) {
	r.appendNetworkEvent(events.Event{ID: n.ID, Name: n.Name, Status: status, Type: events.TypeNetwork})
}

// publishMembership appends the connect or disconnect event of container c and network net.
func (r *Runtime) publishMembership(c *Container, net, status string) {
	r.appendNetworkEvent(events.Event{ID: c.ID, Name: net, Status: status, Type: events.TypeNetwork,
		Attributes: map[string]string{"container": c.Name}})
}

func (r *Runtime) appendNetworkEvent(ev events.Event) {
	if err := r.Events().Append(ev); err != nil {
		logrus.Warnf("publishing %s event of network %s: %v", ev.Status, ev.Name, err)
	}
}

// publish appends a container event. A full disk must not fail the lifecycle step that
// happened, so a failed append is only logged.
func (r *Runtime) publish(c *Container, status string, opt ...func(*events.Event)) {
	ev := containerEvent(c, status)
	for _, o := range opt {
		o(&ev)
	}
	if err := r.Events().Append(ev); err != nil {
		logrus.Warnf("publishing %s event of %s: %v", status, c.Name, err)
	}
}

// publishSteps appends the events of lifecycle steps of c that happen together (a start's
// init and start) in one append: on a start's path, one file opened and written instead of
// one per event.
func (r *Runtime) publishSteps(c *Container, status string, more ...string) {
	evs := make([]events.Event, 0, len(more))
	for _, s := range more {
		evs = append(evs, containerEvent(c, s))
	}
	if err := r.Events().Append(containerEvent(c, status), evs...); err != nil {
		logrus.Warnf("publishing %s event of %s: %v", status, c.Name, err)
	}
}

// containerEvent is the event of c's lifecycle step status, with c's image, name and
// labels as its attributes, as podman's.
func containerEvent(c *Container, status string) events.Event {
	attrs := map[string]string{"image": c.ImageName, "name": c.Name}
	for k, v := range c.Labels {
		if _, taken := attrs[k]; !taken {
			attrs[k] = v
		}
	}
	return events.Event{ID: c.ID, Name: c.Name, Image: c.ImageName, Status: status, Type: events.TypeContainer, Attributes: attrs}
}

func withExitCode(code int) func(*events.Event) {
	return func(e *events.Event) { e.ContainerExitCode = &code }
}

func withAttr(k, v string) func(*events.Event) {
	return func(e *events.Event) { e.Attributes[k] = v }
}

// PublishImage appends an image event.
func (r *Runtime) PublishImage(status, id, name string) {
	ev := events.Event{ID: id, Name: name, Status: status, Type: events.TypeImage}
	if err := r.Events().Append(ev); err != nil {
		logrus.Warnf("publishing %s event of image %s: %v", status, name, err)
	}
}
